"""harness.core.registry: registration, lazy entries, aliases, errors and the real registries."""

import math
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.errors import BenchError
from harness.core.registry import METHODS, TASKS, Registry

ROOT = Path(__file__).resolve().parents[2]


def test_register_and_get_an_object():
    """A registered object comes back unchanged."""
    reg = Registry("thing")
    target = object()
    reg.register("a", target)
    assert reg.get("a") is target
    assert reg.names() == ["a"]
    assert "a" in reg and "b" not in reg


def test_lazy_string_is_imported_on_get_and_checked():
    """A "module:attr" entry is imported on first get and passes the type check."""
    reg = Registry("thing", check=lambda obj: isinstance(obj, float))
    reg.register("pi", "math:pi")
    assert reg.get("pi") == math.pi
    assert reg.get("pi") == math.pi  # cached: still the same value on the second get


def test_aliases_resolve_to_canonical_name():
    """An alias resolves to its canonical name and to the same object."""
    reg = Registry("thing")
    reg.register("long_name", "math:e", aliases=("ln", "short"))
    assert reg.canonical("ln") == "long_name"
    assert reg.canonical("short") == "long_name"
    assert reg.canonical("long_name") == "long_name"
    assert reg.get("short") == math.e
    assert "ln" in reg
    assert reg.names() == ["long_name"]  # aliases are not listed as names


@pytest.mark.parametrize("name, aliases", [("a", ()), ("b", ("x",)), ("x", ()), ("c", ("a",))])
def test_duplicate_name_or_alias_raises(name, aliases):
    """Reusing a name or an alias, as a name or an alias, raises ValueError."""
    reg = Registry("thing")
    reg.register("a", 1, aliases=("x",))
    reg.register("b", 2)
    with pytest.raises(ValueError, match="duplicate thing name"):
        reg.register(name, 3, aliases=aliases)


def test_failed_duplicate_registration_leaves_registry_unchanged():
    """A rejected registration does not half-register its name."""
    reg = Registry("thing")
    reg.register("a", 1)
    with pytest.raises(ValueError):
        reg.register("new", 2, aliases=("a",))
    assert "new" not in reg
    assert reg.names() == ["a"]


def test_wrong_type_raises_type_error():
    """A lazy entry that the check rejects raises TypeError naming the entry and its type."""
    reg = Registry("thing", check=lambda obj: isinstance(obj, str))
    reg.register("pi", "math:pi")
    with pytest.raises(TypeError, match=r"thing 'pi' has the wrong type \(float\)"):
        reg.get("pi")


def test_wrong_type_of_a_direct_entry_raises_at_registration():
    reg = Registry("thing", check=lambda obj: isinstance(obj, float))
    with pytest.raises(TypeError, match=r"thing 'x' has the wrong type \(int\)"):
        reg.register("x", 42)


def test_unknown_name_raises_bench_error_with_suggestion():
    """Unknown names raise BenchError suggesting the closest name and listing valid ones."""
    with pytest.raises(BenchError) as info:
        METHODS.get("fast6")
    message = str(info.value)
    assert "unknown method 'fast6'" in message
    assert "Did you mean 'fast5'?" in message
    assert "Valid:" in message
    for name in ("deepinv", "fast", "fast10", "fast2", "fast5", "fast50"):
        assert name in message.partition("Valid:")[2]


def test_unknown_name_without_close_match_has_no_hint():
    """A name resembling nothing lists the valid names but suggests none."""
    reg = Registry("thing")
    reg.register("alpha", 1)
    with pytest.raises(BenchError) as info:
        reg.get("zzzzzz")
    assert "Did you mean" not in str(info.value)
    assert "Valid: alpha" in str(info.value)


def test_real_registries_contain_builtins():
    """The built-in methods and tasks are registered."""
    names = METHODS.names()
    for name in ("fast2", "fast5", "fast10", "fast50", "fast", "deepinv"):
        assert name in names
    assert "digits" in TASKS.names()


def test_real_entries_pass_their_type_checks():
    """Every built-in method resolves to a MethodSpec and the digits task to a Task subclass."""
    from harness.core.synthesizer import MethodSpec
    from harness.core.task import Task

    for name in ("fast2", "fast5", "fast10", "fast50", "fast", "deepinv"):
        assert isinstance(METHODS.get(name), MethodSpec)
    assert issubclass(TASKS.get("digits"), Task)
    assert METHODS.get("fast5").preset["g_steps"] == 5
    assert METHODS.get("fast10").preset["g_steps"] == 10


def test_listing_methods_does_not_import_torch():
    """Importing the registry and listing methods keeps torch out of sys.modules."""
    code = "import sys; from harness.core.registry import METHODS; METHODS.names(); print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
