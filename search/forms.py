"""HTML forms; each field is labelled and says what it expects."""

from typing import Any

from django import forms

from search.models import (
    MAX_AUTHORIZATION_DAYS,
    MAX_CANDIDATES,
    MAX_TARGET_FMR,
    MIN_TARGET_FMR,
    LegalBasis,
    OffenceCategory,
    RetentionPolicy,
    ReviewDecision,
    SearchPolicy,
)
from search.validators import MAX_RETENTION_DAYS

IMAGE_ACCEPT = {"accept": "image/jpeg,image/png,image/webp"}


class CaseForm(forms.Form):
    case_number = forms.CharField(max_length=60, help_text="Your agency's case or incident number.")
    offence_category = forms.ChoiceField(
        choices=OffenceCategory.choices,
        help_text="Only the offences your agency's policy allows a face search for are listed.")
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
                                    help_text="Why a face search is needed in this case.")
    authorization_reference = forms.CharField(
        max_length=120, required=False,
        help_text="Warrant, court order or supervisor approval number.")

    def __init__(self, *args: Any, allowed_offences: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if allowed_offences is not None:  # the policy's offences only, and no choice made for you
            field = self.fields["offence_category"]
            assert isinstance(field, forms.ChoiceField)  # noqa: S101  (declared above)
            field.choices = [("", "Choose the offence"), *(
                (value, label) for value, label in OffenceCategory.choices
                if value in allowed_offences)]


class ProbeForm(forms.Form):
    probe = forms.FileField(label="Probe photo", widget=forms.ClearableFileInput(attrs=IMAGE_ACCEPT),
                            help_text="JPEG, PNG or WebP, up to 20 MB. The largest face is searched.")


class GalleryForm(forms.Form):
    name = forms.CharField(max_length=200)
    source = forms.CharField(max_length=300, help_text="Where these photos come from.")
    legal_basis = forms.ChoiceField(choices=LegalBasis.choices)


class EnrollForm(forms.Form):
    subject_reference = forms.CharField(max_length=100,
                                        help_text="The record number of this person in the gallery.")
    display_name = forms.CharField(max_length=200, required=False)
    image = forms.FileField(label="Photo", widget=forms.ClearableFileInput(attrs=IMAGE_ACCEPT),
                            help_text="One clear, frontal photo. JPEG, PNG or WebP.")


class PolicyForm(forms.ModelForm):  # type: ignore[type-arg]
    allowed_offences = forms.MultipleChoiceField(
        choices=OffenceCategory.choices, widget=forms.CheckboxSelectMultiple,
        required=False, help_text="Searches are refused for any offence not ticked here.")
    # Entered in percent, stored as a fraction (the API takes the fraction).
    target_false_match_rate = forms.FloatField(
        label="Target false-match rate (%)",
        min_value=MIN_TARGET_FMR * 100, max_value=MAX_TARGET_FMR * 100,
        widget=forms.NumberInput(attrs={"min": MIN_TARGET_FMR * 100,
                                        "max": MAX_TARGET_FMR * 100, "step": "any"}),
        help_text=f"From {MIN_TARGET_FMR * 100:g}% to {MAX_TARGET_FMR * 100:g}%: the chance, at "
                  "most, that a search for a person who is not enrolled shows a candidate above "
                  "the line. The similarity needed follows from your galleries' size at each "
                  "search; lower is stricter.")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.initial["target_false_match_rate"] = self.instance.target_false_match_rate * 100

    def clean_target_false_match_rate(self) -> float:
        return float(self.cleaned_data["target_false_match_rate"]) / 100

    class Meta:
        model = SearchPolicy
        fields = ["allowed_offences", "max_candidates", "target_false_match_rate",
                  "authorization_days"]
        labels = {"max_candidates": "Most candidates shown",
                  "authorization_days": "Days a case authorization lasts"}
        help_texts = {"max_candidates": f"From 1 to {MAX_CANDIDATES}.",
                      "authorization_days": f"From 1 to {MAX_AUTHORIZATION_DAYS} days."}
        widgets = {"max_candidates": forms.NumberInput(attrs={"min": 1, "max": MAX_CANDIDATES}),
                   "authorization_days": forms.NumberInput(attrs={"min": 1,
                                                                  "max": MAX_AUTHORIZATION_DAYS})}


def _retention_days(label: str) -> forms.IntegerField:
    # The model's validators decide; this gives the page the same range (min/max on the input).
    return forms.IntegerField(label=label, min_value=1, max_value=MAX_RETENTION_DAYS,
                              help_text=f"From 1 to {MAX_RETENTION_DAYS} days.")


class RetentionForm(forms.ModelForm):  # type: ignore[type-arg]
    probe_days_after_close = _retention_days("Keep probe photos this many days after a case closes")
    probe_max_days = _retention_days("Never keep a probe photo longer than (days)")
    unconfirmed_candidate_days = _retention_days("Keep unconfirmed candidates (days)")

    class Meta:
        model = RetentionPolicy
        fields = ["probe_days_after_close", "probe_max_days", "unconfirmed_candidate_days"]


class ReviewForm(forms.Form):
    """One reviewer's decision on a candidate: chosen explicitly, then confirmed on its own page."""

    decision = forms.ChoiceField(
        choices=ReviewDecision.choices, widget=forms.RadioSelect, label="Your decision",
        error_messages={"required": "Choose Possible lead or Not a match."},
        help_text="Compare the faces yourself; the similarity alone is not a decision.")
    note = forms.CharField(
        max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3}),
        label="Note for the record",
        help_text="What you compared (ears, scars, age), so that the second reviewer and the "
                  "court can follow. Up to 500 characters.")
