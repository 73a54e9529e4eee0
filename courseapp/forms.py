from django import forms


class SubmissionForm(forms.Form):
    # strip=False: whitespace is meaningful in Python source.
    source = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}), strip=False)


class PolicyForm(forms.Form):
    """The numbers and choices of an exercise's policy (dates are parsed by the view). Out-of-range
    values are form errors, never a database error."""

    late_credit = forms.FloatField(required=False, min_value=0.0, max_value=1.0)
    max_attempts = forms.IntegerField(required=False, min_value=1)
    min_seconds_between = forms.IntegerField(required=False, min_value=0, max_value=7 * 24 * 3600)
    reveal_hidden = forms.ChoiceField(required=False, choices=())
    # queue limits (courseapp.services.fairness): empty = the course's, 0 = none
    max_in_flight = forms.IntegerField(required=False, min_value=0, max_value=1000)
    max_per_minute = forms.IntegerField(required=False, min_value=0, max_value=1000)

    def __init__(self, *args, **kwargs):
        from courseapp.models import ExercisePolicy

        super().__init__(*args, **kwargs)
        self.fields["reveal_hidden"].choices = ExercisePolicy.Reveal.choices

    def policy_values(self) -> dict:
        data = self.cleaned_data
        return {
            "late_credit": 1.0 if data["late_credit"] is None else data["late_credit"],
            "max_attempts": data["max_attempts"],
            "min_seconds_between": data["min_seconds_between"] or 0,
            "reveal_hidden": data["reveal_hidden"] or "never",
            "max_in_flight": data["max_in_flight"],
            "max_per_minute": data["max_per_minute"],
        }


class RegradeForm(forms.Form):
    scope = forms.ChoiceField(choices=())

    def __init__(self, *args, **kwargs):
        from courseapp.models import Regrade

        super().__init__(*args, **kwargs)
        self.fields["scope"].choices = Regrade.Scope.choices


def form_errors(form: forms.Form) -> str:
    """A form's errors as one line for the page ("field: message")."""
    return " ".join(
        f"{'' if name == '__all__' else name.replace('_', ' ') + ': '}{' '.join(str(e) for e in errors)}"
        for name, errors in form.errors.items()
    )
