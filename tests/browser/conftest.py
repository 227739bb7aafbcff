"""Browser tests: Playwright (pytest-playwright) drives Debian's Chromium against one live `make run` stack.

Playwright never downloads a browser here: it launches the Chromium at COPYTRADE_CHROMIUM (default
/usr/bin/chromium), and the browser tests are skipped, with how to get one, where there is none.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.browser.screenshots import FAILURES, shot
from tests.browser.stack_api import StackApi
from tests.browser.staff_login import Authenticator, StaffLogin, enrolled_key, submit_login
from tests.livestack import LiveStack, live_stack

CHROMIUM = os.environ.get("COPYTRADE_CHROMIUM", "/usr/bin/chromium")
VIEWPORT = {"width": 1366, "height": 800}
# The stack answers locally within a second or two; a missing element should fail a test quickly.
ACTION_TIMEOUT_MS = 10_000
expect.set_options(timeout=10_000)

VIEWER_USERNAME = "viewer"
# A staff member who may look at everything and change nothing: only the view_* permissions of the two apps.
VIEWER_SETUP = """
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
user, _ = get_user_model().objects.get_or_create(username={username!r})
user.is_active, user.is_staff, user.is_superuser = True, True, False
user.set_password({password!r})
user.save()
user.user_permissions.set(
    Permission.objects.filter(
        content_type__app_label__in=["accounts", "replication"], codename__startswith="view_"
    )
)
print(" ".join(sorted(user.get_all_permissions())))
"""


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return None
    return f"no Chromium at {CHROMIUM}: apt-get install chromium, or set COPYTRADE_CHROMIUM=/path/to/chromium"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser tests run last, or are skipped where there is no Chromium (before the stack starts).

    Last: Playwright's sync API keeps an asyncio loop running on the main thread while its browser is open,
    and Django then refuses ORM calls ("SynchronousOnlyOperation") in any test that follows in this process.
    """
    browser_tests = [item for item in items if item.get_closest_marker("browser")]
    if not browser_tests:
        return
    items[:] = [item for item in items if not item.get_closest_marker("browser")] + browser_tests
    missing = chromium_missing()
    if missing:
        for item in browser_tests:
            item.add_marker(pytest.mark.skip(reason=missing))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Iterator[None]:
    """A failed browser test leaves var/screenshots/failures/<test name>.png (one per open page)."""
    outcome = yield
    report = outcome.get_result()
    if not (report.failed and report.when in ("setup", "call") and item.get_closest_marker("browser")):
        return
    funcargs = getattr(item, "funcargs", {})
    pages = [value for value in funcargs.values() if isinstance(value, Page)]
    # Every page open in the test's browser contexts (a fixture's page, or one the test opened).
    for page in list(pages):
        pages.extend(p for p in page.context.pages if p not in pages)
    test_name = getattr(item, "originalname", item.name)  # without the [chromium] parameter
    for index, page in enumerate(pages):
        name = test_name if index == 0 else f"{test_name}-{index}"
        with contextlib.suppress(Exception):  # a page that crashed has no screenshot to give
            path = shot(page, name, folder=FAILURES)
            report.sections.append(("screenshot", str(path)))


# ---------------------------------------------------------------------------------------------- the stack
@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveStack]:
    """One `make run` for every browser test, with the admin's second factor required (as in production)."""
    with live_stack(tmp_path_factory.mktemp("browser-stack"), COPYTRADE_ADMIN_REQUIRE_OTP="1") as running:
        yield running


@pytest.fixture(scope="session")
def stack_api(stack: LiveStack) -> StackApi:
    return StackApi(web=stack.web, sim=stack.sim, secret=stack.secret)


@pytest.fixture
def auto_replicate_off(stack_api: StackApi) -> StackApi:
    """Captured master trades wait on the dashboard for the operator instead of being copied at once."""
    stack_api.auto_replicate(on=False)
    return stack_api


@pytest.fixture(scope="session")
def operator(stack: LiveStack) -> StaffLogin:
    """The demo admin (superuser) with a TOTP device enrolled as the banner says (`otp_enrol admin`)."""
    key = enrolled_key(stack.manage("otp_enrol", "admin"))
    return StaffLogin("admin", stack.admin_password, Authenticator(key))


@pytest.fixture(scope="session")
def viewer(stack: LiveStack) -> StaffLogin:
    """A view-only staff member (the view_* permissions of accounts and replication) with a TOTP device."""
    password = secrets.token_urlsafe(16)
    setup = VIEWER_SETUP.format(username=VIEWER_USERNAME, password=password)
    # Django's shell may first say what it imported: the permissions are the last line.
    permissions = stack.manage("shell", "-c", setup).strip().splitlines()[-1].split()
    assert "replication.view_ordermapping" in permissions, permissions
    assert all(".view_" in permission for permission in permissions), permissions
    key = enrolled_key(stack.manage("otp_enrol", VIEWER_USERNAME))
    return StaffLogin(VIEWER_USERNAME, password, Authenticator(key))


# ------------------------------------------------------------------------------------------- the browser
@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    """pytest-playwright's launch options (headless unless --headed), with Debian's Chromium."""
    missing = chromium_missing()
    if missing:
        pytest.skip(missing)
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict, stack: LiveStack) -> dict:
    """Every page: a laptop-sized window, and paths relative to the stack's web server."""
    return {**browser_context_args, "viewport": VIEWPORT, "base_url": stack.web}


@pytest.fixture
def context(context: BrowserContext) -> BrowserContext:
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context


def _logged_in_state(browser: Browser, context_args: dict, login: StaffLogin) -> dict:
    """Cookies of a session that passed the second factor: one login per user and test session, since the
    admin takes each TOTP step once."""
    context = browser.new_context(**context_args)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    page = context.new_page()
    try:
        submit_login(page, login, code=login.authenticator.code())
        expect(page).to_have_url(f"{context_args['base_url']}/admin/")
        return context.storage_state()
    except Exception:
        shot(page, f"login-{login.username}", folder=FAILURES)
        raise
    finally:
        context.close()


@pytest.fixture(scope="session")
def operator_state(browser: Browser, browser_context_args: dict, operator: StaffLogin) -> dict:
    return _logged_in_state(browser, browser_context_args, operator)


@pytest.fixture(scope="session")
def viewer_state(browser: Browser, browser_context_args: dict, viewer: StaffLogin) -> dict:
    return _logged_in_state(browser, browser_context_args, viewer)


def _page_with(new_context: Callable[..., BrowserContext], state: dict) -> Page:
    context = new_context(storage_state=state)
    context.set_default_timeout(ACTION_TIMEOUT_MS)
    return context.new_page()


@pytest.fixture
def operator_page(new_context: Callable[..., BrowserContext], operator_state: dict) -> Page:
    """A page logged in to the admin as the demo admin (password and TOTP code passed)."""
    return _page_with(new_context, operator_state)


@pytest.fixture
def viewer_page(new_context: Callable[..., BrowserContext], viewer_state: dict) -> Page:
    """A page logged in to the admin as the view-only staff member."""
    return _page_with(new_context, viewer_state)
