"""Template helpers that put the U.S. Web Design System's classes on Django's form widgets, so
forms keep rendering through Django (ids, aria-describedby, values) and look like USWDS."""

from __future__ import annotations

from django import forms, template
from django.forms.widgets import Input
from django.utils.safestring import SafeString

register = template.Library()

# File inputs stay native: USWDS's enhanced file input rewrites the control with innerHTML.
_WIDGET_CLASSES: tuple[tuple[type[forms.Widget], str], ...] = (
    (forms.CheckboxInput, "usa-checkbox__input"),
    (forms.RadioSelect, ""),
    (forms.CheckboxSelectMultiple, ""),
    (forms.FileInput, ""),
    (forms.Select, "usa-select"),
    (forms.Textarea, "usa-textarea"),
    (Input, "usa-input"),
)


def widget_class(widget: forms.Widget) -> str:
    """The USWDS class for a widget, or '' for those USWDS styles through their own markup."""
    for widget_type, css_class in _WIDGET_CLASSES:
        if isinstance(widget, widget_type):
            return css_class
    return ""


@register.simple_tag
def uswds_widget(field: forms.BoundField) -> SafeString:
    """The field's widget with its USWDS class, marked as in error when the field has errors."""
    classes = [field.field.widget.attrs.get("class", ""), widget_class(field.field.widget)]
    if field.errors and classes[1] in ("usa-input", "usa-select", "usa-textarea"):
        classes.append(f"{classes[1]}--error")
    return field.as_widget(attrs={"class": " ".join(c for c in classes if c)})
