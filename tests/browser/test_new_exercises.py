"""The three exercises of issue 10 in the demo course, in a real browser (Debian chromium, headless):
they load through sync_exercises (each reference graded for full marks), the student sees them in
the course, submits a bottleneck block with the stride on the wrong convolution and is told which
misconception that is."""

import re
import shutil
from io import StringIO

import pytest
from django.core.management import call_command

from tests.browser.test_student_loop import (
    _type_into_editor,
    browser,  # noqa: F401 - the headless chromium fixture, shared
)
from tests.conftest import EXERCISES

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

NEW_EXERCISES = {
    "bottleneck-block": "Implement the bottleneck block (ResNet-50)",
    "preact-block": "Implement the pre-activation block",
    "resnet-assembly": "Assemble a small ResNet",
}

# What a student who learnt the original ResNet paper writes: the stride on the first 1x1 convolution.
BOTTLENECK_STRIDE_ON_1X1 = """\
import torch
from torch import nn
import torch.nn.functional as F


class BottleneckBlock(nn.Module):
    expansion = 4

    def __init__(self, in_channels, width, stride=1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, width, 1, stride=stride, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, 4 * width, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(4 * width)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != 4 * width:
            self.shortcut = nn.Sequential(nn.Conv2d(in_channels, 4 * width, 1, stride=stride, bias=False),
                                          nn.BatchNorm2d(4 * width))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = F.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return F.relu(out + self.shortcut(x))
"""


@pytest.fixture
def demo(tmp_path, real_grader):
    """The demo course with the three new exercises, loaded the way scripts/run.sh loads them."""
    root = tmp_path / "exercises"
    root.mkdir()
    shutil.copy(EXERCISES / "misconceptions.toml", root)
    for slug in NEW_EXERCISES:
        shutil.copytree(EXERCISES / slug, root / slug, ignore=shutil.ignore_patterns("__pycache__"))
    out = StringIO()
    call_command("sync_exercises", "--dir", str(root), stdout=out)
    for slug in NEW_EXERCISES:
        assert re.search(rf"^{slug}: new revision", out.getvalue(), re.MULTILINE), out.getvalue()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return dict(re.findall(r"login: (\S+)\s+password: (\S+)", out.getvalue()))


def test_student_sees_the_new_exercises_and_a_named_bottleneck_mistake(celery_worker, live_server, demo, browser):  # noqa: F811
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    page.set_default_timeout(20_000)
    page.goto(live_server.url + "/")
    page.fill("#id_username", "student")
    page.fill("#id_password", demo["student"])
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Exercises")
    for title in NEW_EXERCISES.values():
        expect(page.locator("table.exercises")).to_contain_text(title)

    page.click(f"text={NEW_EXERCISES['bottleneck-block']}")
    expect(page.locator(".CodeMirror")).to_contain_text("class BottleneckBlock")  # the starter
    _type_into_editor(page, BOTTLENECK_STRIDE_ON_1X1)
    page.click("#submit-button")
    expect(page).to_have_url(re.compile(r"/submissions/\d+/$"))
    expect(page.locator("#job-state")).to_have_text("graded", timeout=180_000)
    feedback = page.locator("#feedback")
    expect(feedback.locator(".misconception").first).to_contain_text(
        "The stride belongs on the 3x3 convolution, not on a 1x1"
    )
    expect(feedback.locator("#full-marks")).to_have_count(0)
    page.close()
