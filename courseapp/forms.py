from django import forms


class SubmissionForm(forms.Form):
    # strip=False: whitespace is meaningful in Python source.
    source = forms.CharField(widget=forms.Textarea(attrs={"rows": 24, "spellcheck": "false"}), strip=False)
