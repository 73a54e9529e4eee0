"""Similarity: robust to renaming and reformatting, lower for an independent solution, ~0 for the starter."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from courseapp import similarity
from courseapp.models import Enrolment
from courseapp.services.seeding import record_graded
from tests.conftest import IDENTITY_BLOCK, IDENTITY_CORRECT, ROOT
from tests.courseapp.instructor_helpers import checks, make_instructor

STARTER = (IDENTITY_BLOCK / "starter.py").read_text()
INDEPENDENT = (ROOT / "tests/grader/submissions/identity-block/correct_sequential.py").read_text()

RENAMED = """import torch
from torch import nn

# my own work!!
class IdentityBlock( nn.Module ):
  def __init__(self, c: int, k: int=3):
    super().__init__()
    p = k//2
    self.a = nn.Conv2d(c, c, k, padding=p,
                       bias=False)
    self.na = nn.BatchNorm2d(c)
    self.b = nn.Conv2d(c, c, k, padding=p, bias=False)   # second conv
    self.nb = nn.BatchNorm2d(c)

  def forward(self, inp):
    h = torch.relu(self.na(self.a(inp)))
    h = self.nb(self.b(h))
    return torch.relu(h + inp)
"""


def test_a_renamed_reformatted_copy_scores_high():
    assert similarity.similarity(IDENTITY_CORRECT, RENAMED, STARTER) > 0.9


def test_an_independent_solution_scores_lower():
    copy = similarity.similarity(IDENTITY_CORRECT, RENAMED, STARTER)
    independent = similarity.similarity(IDENTITY_CORRECT, INDEPENDENT, STARTER)
    assert independent < 0.4 and independent < copy - 0.5


def test_the_starter_alone_scores_about_zero():
    assert similarity.similarity(STARTER, IDENTITY_CORRECT, STARTER) < 0.05
    assert similarity.similarity(STARTER, STARTER, STARTER) == 0.0


def test_normalise_keeps_library_names_and_drops_comments():
    toks = [t for t, _ in similarity.normalise("import torch\nx = torch.relu(y)  # hi\nself.conv1 = 3\n")]
    assert "torch" in toks and "relu" in toks and "conv1" not in toks and "# hi" not in toks
    assert similarity.normalise('x = """never closed\n') == []
    assert similarity.fingerprints('x = """never closed\n') == {}


def test_side_by_side_marks_the_matched_lines():
    sbs = similarity.side_by_side(IDENTITY_CORRECT, RENAMED, STARTER)
    right = {n: hit for n, _, hit in sbs["right"]}
    assert right[17] and right[18]  # the forward body
    assert not right[4]  # the comment line


@pytest.mark.django_db
def test_the_report_pairs_the_copiers(client, world):
    User = get_user_model()
    rev = world.code.current_revision
    users = {}
    for name, src in (("copier1", IDENTITY_CORRECT), ("copier2", RENAMED), ("honest", INDEPENDENT)):
        users[name] = User.objects.create_user(name)
        Enrolment.objects.create(user=users[name], course=world.course)
        record_graded(user=users[name], revision=rev, source=src, tests=checks(True))
    prof = make_instructor(world.course)
    client.force_login(prof)
    page = client.get(reverse("instructor-similarity", args=[world.course.slug, world.code.slug])).content.decode()
    rows = re.findall(r"<tr><td class=\"num\">([\d.]+)</td><td>(\w+)</td><td>(\w+)</td>", page)
    assert len(rows) == 1 and {rows[0][1], rows[0][2]} == {"copier1", "copier2"} and float(rows[0][0]) > 0.9
    link = re.search(r'href="([^"]+/similarity/\d+/\d+/)"', page).group(1)
    pair = client.get(link).content.decode()
    assert pair.count('class="ln hit"') >= 8
