"""One spelling per mailbox: an email as accounts hold it, so that two spellings of one
address are one account, one week of scenes and one model budget (the attacker's replay:
"e1@bücher.example" and "e1@xn--bcher-kva.example", '"h1"@example.com' and "h1@example.com"
were two accounts, and deleting one and signing up as the other gave the week back)."""

import idna
from django import forms
from django.core.exceptions import ValidationError


def canonical(email: str) -> str:
    """The address with its domain in Unicode, lowercased by IDNA 2008's mapping (UTS 46,
    which keeps "ß"), or by IDNA 2003's where IDNA 2008 refuses it (a domain with an emoji, say,
    which registries gave out and Django takes: such accounts could no longer log in: the
    attacker's recheck); its local part as typed (case is compared apart: citext). A quoted
    local part is refused: none needs it, and its quotes made a second spelling."""
    local, at, domain = email.strip().rpartition("@")
    if not at or not local or not domain:
        raise ValidationError("Enter a valid email address.", code="invalid")
    if local.startswith('"') or local.endswith('"'):
        raise ValidationError("Enter the email address without quotation marks.", code="quoted")
    try:
        domain = idna.decode(idna.encode(domain, uts46=True))
    except idna.IDNAError:
        try:
            domain = domain.encode("idna").decode("idna")
        except UnicodeError as error:
            raise ValidationError("Enter a valid email address.", code="invalid") from error
    return f"{local}@{domain}"


class EmailField(forms.EmailField):
    """An email form field that gives the address's one spelling (`canonical`). With
    `as_typed_if_odd`, an address it cannot spell (an account stored before, say) is taken as
    typed, for the forms that only look an account up (log-in, reset)."""

    def __init__(self, *args, as_typed_if_odd: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.as_typed_if_odd = as_typed_if_odd

    def to_python(self, value):
        value = super().to_python(value)
        if not value:
            return value
        try:
            return canonical(value)
        except ValidationError:
            if self.as_typed_if_odd:
                return value
            raise
