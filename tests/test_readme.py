"""The README's sample commands, run as written, in order, on a copy of the repository: each must
succeed and print the metric its table of expected results states, within the stated range."""

import os
import re
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO_ROOT

README = os.path.join(REPO_ROOT, "README.md")
SAMPLES = ("Quickstart", "GLUE", "RACE", "SQuAD 1.1", "SQuAD 2.0")


def readme_bash_blocks():
    with open(README, encoding="utf-8") as f:
        return re.findall(r"```bash\n(.*?)```", f.read(), re.S)


def sample_commands():
    """{sample: its `python run/...` command}: the quickstart's from its block, the fine-tuning samples'
    from the block where a `# <sample> (...)` comment heads each one."""
    commands = {}
    for block in readme_bash_blocks():
        joined = block.replace("\\\n", " ")
        label = None
        for line in joined.splitlines():
            comment = re.match(r"# (GLUE|RACE|SQuAD \d\.\d)\b", line)
            if comment:
                label = comment.group(1)
            elif line.startswith("python run/") and label:
                commands[label] = line
                label = None
            elif "run/flags/quickstart.flags" in line:
                commands["Quickstart"] = line[line.index("python run/"):]
    return commands


def expected_ranges():
    """{sample: {metric: (low, high)}} from the README's table of expected results."""
    with open(README, encoding="utf-8") as f:
        rows = [line.split("|")[1:-1] for line in f if line.startswith("| ") and line.split("|")[1].strip() in SAMPLES]
    return {cells[0].strip(): {name: (float(low), float(high))
                               for name, low, high in re.findall(r"`(\w+)` ([\d.]+)–([\d.]+)", cells[2])}
            for cells in rows}


def printed(metric, stdout):
    """The last `metric = value` the command printed."""
    values = re.findall(rf"\b{metric} = (-?[\d.]+)", stdout)
    assert values, f"{metric} was not printed:\n{stdout}"
    return float(values[-1])


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """The repository's files as git has them (tracked and not ignored), without outputs of earlier runs."""
    listed = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], cwd=REPO_ROOT,
                            capture_output=True, check=True).stdout.decode().split("\0")
    copy = tmp_path_factory.mktemp("repo")
    for name in filter(None, listed):
        if os.path.isfile(os.path.join(REPO_ROOT, name)):
            os.makedirs(os.path.join(copy, os.path.dirname(name)), exist_ok=True)
            shutil.copy2(os.path.join(REPO_ROOT, name), os.path.join(copy, name))
    return copy


def test_the_table_has_a_range_for_every_sample_command():
    assert sorted(sample_commands()) == sorted(SAMPLES) and all(expected_ranges()[s] for s in SAMPLES)


@pytest.mark.slow
def test_every_sample_command_runs_as_written_and_reaches_its_stated_range(fresh_copy):
    # `python` is this interpreter, so the commands see the environment the tests run in.
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"],
               PYTHONPATH=str(fresh_copy))
    commands, ranges = sample_commands(), expected_ranges()
    outside = []
    for sample in SAMPLES:  # in the README's order: the fine-tuning samples start from the quickstart's output
        result = subprocess.run(commands[sample], shell=True, cwd=fresh_copy, env=env, capture_output=True,
                                text=True, timeout=1200)
        assert result.returncode == 0, f"{sample}: {commands[sample]}\n{result.stderr[-3000:]}"
        for metric, (low, high) in ranges[sample].items():
            value = printed(metric, result.stdout)
            if not low <= value <= high:
                outside.append(f"{sample}: {metric} = {value}, README says {low}–{high}")

    assert outside == []
