"""An encrypted text field whose ciphertext is bound to model, field and owning row.

The attribute holds plaintext in memory; the column holds ``encryption.encrypt`` output. Values loaded
from the database stay sealed until first read, and are decrypted with the row identity (the value of
``identity_attname``, e.g. the owning account's primary key) as associated data. Saving goes through
``pre_save`` (which has the instance); paths that skip it (``QuerySet.update``, ``bulk_update``) refuse
plaintext instead of writing it.
"""

from __future__ import annotations

from typing import Any

from django.db import models
from django.db.models.query_utils import DeferredAttribute

from accounts import encryption


class Sealed(str):
    """Ciphertext as read from the database, not yet decrypted."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<sealed>"


class _EncryptedDescriptor(DeferredAttribute):
    """Loads deferred values like Django's own descriptor, then decrypts on first read."""

    field: EncryptedTextField

    def __get__(self, instance: models.Model | None, cls: type | None = None) -> Any:
        if instance is None:
            return self
        value = super().__get__(instance, cls)
        if isinstance(value, Sealed):
            value = encryption.decrypt(value, aad=self.field.aad_for(instance)) if value else ""
            instance.__dict__[self.field.attname] = value
        return value

    def __set__(self, instance: models.Model, value: Any) -> None:
        instance.__dict__[self.field.attname] = "" if value is None else value


class EncryptedTextField(models.TextField):
    """AES-256-GCM encrypted text; empty string means "not set" and is stored as ''."""

    descriptor_class = _EncryptedDescriptor

    def __init__(self, *args: Any, identity_attname: str = "pk", **kwargs: Any) -> None:
        self.identity_attname = identity_attname
        kwargs.setdefault("blank", True)
        kwargs.setdefault("default", "")
        kwargs.setdefault("editable", False)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["identity_attname"] = self.identity_attname
        for key, default in (("blank", True), ("default", ""), ("editable", False)):
            if kwargs.get(key, default) == default:
                kwargs.pop(key, None)
        if not self.editable:
            kwargs["editable"] = False
        return name, path, args, kwargs

    def aad_for(self, instance: models.Model) -> str:
        identity = getattr(instance, self.identity_attname)
        if identity in (None, ""):
            raise encryption.DecryptionError(
                f"{self.model._meta.label_lower}.{self.name} has no row identity"
            )
        return f"{self.model._meta.label_lower}.{self.name}:{identity}"

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        if value is None or value == "":
            return ""
        return Sealed(value)

    def to_python(self, value: Any) -> Any:
        if isinstance(value, str) and encryption.is_ciphertext(value) and not isinstance(value, Sealed):
            return Sealed(value)
        return value

    def pre_save(self, model_instance: models.Model, add: bool) -> Any:
        value = model_instance.__dict__.get(self.attname, "")
        if value is None or value == "":
            return Sealed("")
        if isinstance(value, Sealed):
            return value
        return Sealed(encryption.encrypt(str(value), aad=self.aad_for(model_instance)))

    def get_prep_value(self, value: Any) -> Any:
        if value is None or value == "":
            return ""
        if isinstance(value, Sealed):
            return str(value)
        raise ValueError(f"{self.name} is encrypted: save it through Model.save(), not update()/filters")

    def value_to_string(self, obj: models.Model) -> str:
        # Serialization (dumpdata) writes the ciphertext, never the plaintext.
        value = obj.__dict__.get(self.attname, "")
        if isinstance(value, Sealed) or not value:
            return str(value)
        return encryption.encrypt(str(value), aad=self.aad_for(obj))
