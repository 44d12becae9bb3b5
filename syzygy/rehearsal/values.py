"""Values for the fields of historical models, generated per field type.

The generator is deterministic for a seed, and every value it makes for a
unique column is unique: a counter shared by every generator (and thread)
goes into it.
"""

from __future__ import annotations

import datetime
import decimal
import itertools
import random
import string
import uuid
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import models

__all__ = ("Unsupported", "ValueGenerator", "is_generated")

# The ranges of integer columns on every database Django supports.
_INTEGER_RANGES = {
    "SmallIntegerField": (-32768, 32767),
    "PositiveSmallIntegerField": (0, 32767),
    "IntegerField": (-2147483648, 2147483647),
    "PositiveIntegerField": (0, 2147483647),
    "BigIntegerField": (-(2**63), 2**63 - 1),
    "PositiveBigIntegerField": (0, 2**63 - 1),
}
_EPOCH = datetime.datetime(2020, 1, 1)
_STRING_LENGTH = 16


class Unsupported(Exception):
    """No value can be generated for a field the database requires."""


def is_generated(field: models.Field[Any, Any]) -> bool:
    """Return whether the database computes ``field`` (a ``GeneratedField``)."""
    return bool(getattr(field, "generated", False))


class ValueGenerator:
    """Make a value for any concrete field, honouring ``null``,
    ``max_length``, ``choices``, ``unique`` and decimal digits."""

    def __init__(self, seed: int, counter: itertools.count[int]) -> None:
        self.random = random.Random(seed)
        self.counter = counter

    def value(self, field: models.Field[Any, Any]) -> Any:
        """Return a value for ``field``; raise ``Unsupported`` if none can be made."""
        number = next(self.counter)
        if field.choices:
            choices = [choice for choice, _ in field.flatchoices]
            if choices and not field.unique:
                return self.random.choice(choices)
        generate = self._generator(field)
        if generate is not None:
            return generate(field, number)
        if field.has_default():
            return field.get_default()
        if field.null:
            return None
        raise Unsupported(
            f"no value can be generated for {field.__class__.__name__} "
            f"{field.model._meta.label}.{field.name}"
        )

    def _generator(
        self, field: models.Field[Any, Any]
    ) -> Callable[[models.Field[Any, Any], int], Any] | None:
        # Subclasses first: an EmailField is a CharField to the database, but
        # its values must stay valid e-mail addresses for the app's forms.
        for field_class, generate in (
            (models.EmailField, self._email),
            (models.URLField, self._url),
            (models.GenericIPAddressField, self._ip_address),
            (models.FileField, self._path),
            (models.FilePathField, self._path),
        ):
            if isinstance(field, field_class):
                return generate
        internal_type = field.get_internal_type()
        if internal_type in _INTEGER_RANGES:
            return self._integer
        return {
            "CharField": self._text,
            "SlugField": self._text,
            "TextField": self._text,
            "BooleanField": self._boolean,
            "FloatField": self._float,
            "DecimalField": self._decimal,
            "DateField": self._date,
            "DateTimeField": self._datetime,
            "TimeField": self._time,
            "DurationField": self._duration,
            "UUIDField": self._uuid,
            "BinaryField": self._binary,
            "JSONField": self._json,
        }.get(internal_type)

    def _text(self, field: models.Field[Any, Any], number: int) -> str:
        letters = "".join(self.random.choices(string.ascii_lowercase, k=_STRING_LENGTH))
        # The counter first, so that cutting to max_length keeps it unique.
        text = f"{_base36(number)}-{letters}"
        return text[: field.max_length] if field.max_length else text

    def _email(self, field: models.Field[Any, Any], number: int) -> str:
        return f"u{_base36(number)}@example.com"[: field.max_length]

    def _url(self, field: models.Field[Any, Any], number: int) -> str:
        return f"https://example.com/{_base36(number)}"[: field.max_length]

    def _path(self, field: models.Field[Any, Any], number: int) -> str:
        return f"rehearsal/{_base36(number)}.txt"[: field.max_length]

    def _ip_address(self, field: models.Field[Any, Any], number: int) -> str:
        return f"10.{number >> 16 & 255}.{number >> 8 & 255}.{number & 255}"

    def _integer(self, field: models.Field[Any, Any], number: int) -> int:
        low, high = _INTEGER_RANGES[field.get_internal_type()]
        if field.unique or field.primary_key:
            return max(low, 1) + number % (high - max(low, 1))
        return self.random.randint(max(low, -1000), min(high, 1000))

    def _boolean(self, field: models.Field[Any, Any], number: int) -> bool:
        return self.random.random() < 0.5

    def _float(self, field: models.Field[Any, Any], number: int) -> float:
        return number + self.random.random() if field.unique else self.random.random()

    def _decimal(self, field: models.Field[Any, Any], number: int) -> decimal.Decimal:
        places = field.decimal_places or 0  # type: ignore[attr-defined]
        whole_digits = max((field.max_digits or 10) - places, 0)  # type: ignore[attr-defined]
        whole = number if field.unique else self.random.randrange(10**whole_digits)
        fraction = self.random.randrange(10**places)
        value = decimal.Decimal(whole % 10**whole_digits) + decimal.Decimal(
            fraction
        ).scaleb(-places)
        return value.quantize(decimal.Decimal(1).scaleb(-places))

    def _moment(self, number: int) -> datetime.datetime:
        return _EPOCH + datetime.timedelta(
            seconds=number * 86400 + self.random.randrange(86400)
        )

    def _date(self, field: models.Field[Any, Any], number: int) -> datetime.date:
        return self._moment(number).date()

    def _datetime(
        self, field: models.Field[Any, Any], number: int
    ) -> datetime.datetime:
        moment = self._moment(number)
        return (
            moment.replace(tzinfo=datetime.timezone.utc) if settings.USE_TZ else moment
        )

    def _time(self, field: models.Field[Any, Any], number: int) -> datetime.time:
        return self._moment(number).time()

    def _duration(
        self, field: models.Field[Any, Any], number: int
    ) -> datetime.timedelta:
        return datetime.timedelta(seconds=number)

    def _uuid(self, field: models.Field[Any, Any], number: int) -> uuid.UUID:
        return uuid.UUID(int=self.random.getrandbits(128), version=4)

    def _binary(self, field: models.Field[Any, Any], number: int) -> bytes:
        return number.to_bytes(8, "big")[: field.max_length]

    def _json(self, field: models.Field[Any, Any], number: int) -> dict[str, int]:
        return {"rehearsal": number}


def _base36(number: int) -> str:
    digits = string.digits + string.ascii_lowercase
    text = ""
    while True:
        number, digit = divmod(number, 36)
        text = digits[digit] + text
        if not number:
            return text
