"""Read-only records (audit trail, captured and computed state) have no Save or Delete button, even for a
superuser, and refuse a crafted save or delete."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.integration.admin.records import one_of_each

pytestmark = pytest.mark.django_db

READ_ONLY = {
    "audit": "accounts_auditevent",
    "delivery": "accounts_notificationdelivery",
    "event": "replication_tradeevent",
    "mapping": "replication_ordermapping",
    "action": "replication_orderaction",
    "trade": "replication_mastertrade",
    "capture": "replication_capturestatus",
    "snapshot": "replication_followerrisksnapshot",
    "heartbeat": "core_heartbeat",
    "instrument": "broker_instrument",
}
BUTTONS = (
    'name="_save"',
    'name="_continue"',
    'name="_addanother"',
    'name="_saveasnew"',
    'class="deletelink"',
)


@pytest.mark.parametrize("name", sorted(READ_ONLY))
def test_read_only_record_page_has_no_save_or_delete_button(operator, name):
    # given
    obj = one_of_each()[name]
    url = reverse(f"admin:{READ_ONLY[name]}_change", args=[obj.pk])
    # when
    page = operator.get(url)
    saved = operator.post(url, {})
    deleted = operator.post(reverse(f"admin:{READ_ONLY[name]}_delete", args=[obj.pk]), {"post": "yes"})
    # then
    body = page.content.decode()
    assert page.status_code == 200
    for button in BUTTONS:
        assert button not in body
    for label in ("Save and continue editing", "Save and add another", ">Delete<"):
        assert label not in body
    assert 'class="closelink"' in body
    assert saved.status_code == 403
    assert deleted.status_code == 403
    assert type(obj).objects.filter(pk=obj.pk).exists()


def test_changelists_of_read_only_records_offer_no_delete_action(operator):
    # given
    one_of_each()
    # when
    pages = {name: operator.get(reverse(f"admin:{model}_changelist")) for name, model in READ_ONLY.items()}
    # then
    for response in pages.values():
        assert 'value="delete_selected"' not in response.content.decode()


def test_consent_shows_read_only_on_the_account_page(operator):
    # given
    follower = one_of_each()["follower"]
    # when
    page = operator.get(reverse("admin:accounts_account_change", args=[follower.pk])).content.decode()
    # then: no consent field to edit and no box to delete it with (nor the credential)
    assert 'name="consent-0-trade_replication_enabled"' not in page
    assert 'name="consent-0-DELETE"' not in page
    assert 'name="credential-0-DELETE"' not in page
    assert 'name="risk_config-0-DELETE"' not in page
