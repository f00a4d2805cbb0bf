"""HTML forms; each field is labelled and says what it expects."""

from django import forms

from search.models import LegalBasis, OffenceCategory, RetentionPolicy, SearchPolicy

IMAGE_ACCEPT = {"accept": "image/jpeg,image/png,image/webp"}


class CaseForm(forms.Form):
    case_number = forms.CharField(max_length=60, help_text="Your agency's case or incident number.")
    offence_category = forms.ChoiceField(choices=OffenceCategory.choices)
    justification = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False,
                                    help_text="Why a face search is needed in this case.")
    authorization_reference = forms.CharField(
        max_length=120, required=False,
        help_text="Warrant, court order or supervisor approval number.")


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

    class Meta:
        model = SearchPolicy
        fields = ["allowed_offences", "max_candidates", "similarity_threshold", "authorization_days"]
        labels = {"max_candidates": "Most candidates shown",
                  "similarity_threshold": "Similarity threshold",
                  "authorization_days": "Days a case authorization lasts"}


class RetentionForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = RetentionPolicy
        fields = ["probe_days_after_close", "probe_max_days", "unconfirmed_candidate_days"]
        labels = {"probe_days_after_close": "Keep probe photos this many days after a case closes",
                  "probe_max_days": "Never keep a probe photo longer than (days)",
                  "unconfirmed_candidate_days": "Keep unconfirmed candidates (days)"}
