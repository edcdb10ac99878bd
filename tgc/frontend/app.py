"""`tf.app`: ``tf.app.flags`` (TF1's absl-style command-line flags, on argparse) and ``tf.app.run``.

Flags are defined at module level (``flags.DEFINE_integer("batch_size", 32, "help")``) and read as
``FLAGS.batch_size``. ``tf.app.run(main)`` parses ``sys.argv`` and calls ``main`` with what is left
(the program name and the positional arguments), then exits with ``main``'s return value, as absl's
``app.run`` does. A flag read before ``run`` parses ``sys.argv`` then (TF 1.4's rule, gentler than
absl's error). Booleans take ``--flag``, ``--noflag`` and ``--flag=true|false``. An unknown
``--flag`` is an error naming it, as in absl.
"""

from __future__ import annotations

import sys


class Error(Exception):
    """A flag was defined twice, or a command line did not parse (absl's ``flags.Error``)."""


class IllegalFlagValueError(Error):
    pass


class UnrecognizedFlagError(Error):
    pass


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "t", "1", "yes", "y"):
        return True
    if lowered in ("false", "f", "0", "no", "n"):
        return False
    raise ValueError(f"{text!r} is not a boolean")


def _parse_list(text: str) -> list:
    return [part.strip() for part in text.split(",") if part.strip()] if text else []


_EXPECTED = {
    "string": "a string",
    "integer": "an integer",
    "float": "a float",
    "bool": "a boolean",
    "list": "a comma-separated list",
    "enum": "one of the flag's values",
}


class _Flag:
    def __init__(self, name, default, help, parser, kind, choices=None):
        self.name, self.help, self.parser, self.kind = name, help, parser, kind
        self.choices = choices
        self.default = self.parse(default) if isinstance(default, str) else default
        self.value = self.default

    def parse(self, text):
        try:
            value = self.parser(text)
        except (ValueError, TypeError) as exc:
            raise IllegalFlagValueError(
                f"flag --{self.name}={text}: {exc} ({_EXPECTED[self.kind]} is expected)"
            ) from None
        if self.choices is not None and value not in self.choices:
            raise IllegalFlagValueError(
                f"flag --{self.name}={text}: value should be one of {sorted(self.choices)}"
            )
        return value


class _FlagValues:
    """``tf.app.flags.FLAGS``: one attribute per defined flag."""

    def __init__(self):
        object.__setattr__(self, "_flags", {})
        object.__setattr__(self, "_parsed", False)

    def _define(self, flag: _Flag) -> None:
        if flag.name in self._flags:
            raise Error(f"flag --{flag.name} is defined twice")
        self._flags[flag.name] = flag

    def __getattr__(self, name):
        flags = object.__getattribute__(self, "_flags")
        if name not in flags:
            raise AttributeError(f"no flag --{name} is defined")
        if not object.__getattribute__(self, "_parsed"):
            self._parse_known(sys.argv)
        return flags[name].value

    def __setattr__(self, name, value):
        if name not in self._flags:
            raise AttributeError(f"no flag --{name} is defined")
        self._flags[name].value = value

    def __delattr__(self, name):
        """Removes a flag (absl's ``delattr(FLAGS, name)``)."""
        if name not in self._flags:
            raise AttributeError(f"no flag --{name} is defined")
        del self._flags[name]

    def unparse_flags(self) -> None:
        """Every flag back to its default, as not yet parsed."""
        for flag in self._flags.values():
            flag.value = flag.default
        object.__setattr__(self, "_parsed", False)

    def __contains__(self, name):
        return name in self._flags

    def __iter__(self):
        return iter(self._flags)

    def __call__(self, argv, known_only=False):
        """Parses ``argv`` (its first entry is the program); returns the program and the
        positional arguments."""
        return self._parse(list(argv), known_only)

    def is_parsed(self) -> bool:
        return self._parsed

    def mark_as_parsed(self) -> None:
        object.__setattr__(self, "_parsed", True)

    def flag_values_dict(self) -> dict:
        return {name: flag.value for name, flag in self._flags.items()}

    def _parse_known(self, argv):
        self._parse(list(argv), known_only=True)

    def _parse(self, argv, known_only):
        rest = argv[:1]
        args = iter(argv[1:])
        for arg in args:
            if arg == "--":
                rest.extend(args)
                break
            if not arg.startswith("-") or arg == "-":
                rest.append(arg)
                continue
            name, eq, text = arg.lstrip("-").partition("=")
            flag = self._flags.get(name)
            if flag is None and name.startswith("no") and not eq:
                negated = self._flags.get(name[2:])
                if negated is not None and negated.kind == "bool":
                    negated.value = False
                    continue
            if flag is None:
                if known_only:
                    rest.append(arg)
                    continue
                raise UnrecognizedFlagError(f"Unknown command line flag '{name}'")
            if flag.kind == "bool" and not eq:
                flag.value = True
                continue
            if not eq:
                text = next(args, None)
                if text is None:
                    raise IllegalFlagValueError(f"flag --{name} needs a value")
            flag.value = flag.parse(text)
        object.__setattr__(self, "_parsed", True)
        return rest


FLAGS = _FlagValues()


def _definer(parser, kind):
    def define(name, default, help=None, flag_values=FLAGS, **_absl_options):
        flag_values._define(_Flag(name, default, help, parser, kind))

    define.__name__ = f"DEFINE_{kind}"
    return define


DEFINE_string = _definer(str, "string")
DEFINE_integer = _definer(int, "integer")
DEFINE_float = _definer(float, "float")
DEFINE_boolean = _definer(_parse_bool, "bool")
DEFINE_bool = DEFINE_boolean
DEFINE_list = _definer(_parse_list, "list")


def DEFINE_enum(name, default, enum_values, help=None, flag_values=FLAGS, **_absl_options):
    flag_values._define(_Flag(name, default, help, str, "enum", choices=set(enum_values)))


class _FlagsModule:
    """``tf.app.flags`` (also ``tf.flags``): the DEFINE functions and FLAGS."""

    FLAGS = FLAGS
    Error = Error
    IllegalFlagValueError = IllegalFlagValueError
    UnrecognizedFlagError = UnrecognizedFlagError
    DEFINE_string = staticmethod(DEFINE_string)
    DEFINE_integer = staticmethod(DEFINE_integer)
    DEFINE_float = staticmethod(DEFINE_float)
    DEFINE_boolean = staticmethod(DEFINE_boolean)
    DEFINE_bool = staticmethod(DEFINE_bool)
    DEFINE_list = staticmethod(DEFINE_list)
    DEFINE_enum = staticmethod(DEFINE_enum)


flags = _FlagsModule()


def run(main=None, argv=None):
    """Parses the flags from ``argv`` (default ``sys.argv``), calls ``main(remaining argv)`` (or
    the ``__main__`` module's ``main``) and exits with its return value."""
    remaining = FLAGS(sys.argv if argv is None else argv)
    main = main or sys.modules["__main__"].main
    sys.exit(main(remaining))
