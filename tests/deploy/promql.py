"""A little PromQL reading for the deploy-kit tests: which metric names an expression uses, Grafana
template variables substituted, and every query of a Grafana dashboard.

Shared by the metric-name test and the live-stack test, so both read dashboards the same way.
"""

import re

# Prometheus 2.42's functions (including `start`/`end` of the `@` modifier) and aggregation
# operators. An identifier followed by `(` must be one of them: anything else is a typo that
# Prometheus would reject, so it is reported rather than skipped.
FUNCTIONS = frozenset(
    """
    abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp
    clamp_max clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg
    delta deriv end exp floor histogram_count histogram_fraction histogram_quantile histogram_sum
    holt_winters hour idelta increase irate label_join label_replace last_over_time ln log10 log2
    max_over_time min_over_time minute month pi predict_linear present_over_time quantile_over_time
    rad rate resets round scalar sgn sin sinh sort sort_desc sqrt start stddev_over_time
    stdvar_over_time sum_over_time tan tanh time timestamp vector year
    """.split()
)
AGGREGATIONS = frozenset(
    "avg bottomk count count_values group max min quantile stddev stdvar sum topk".split()
)
# Words of the grammar that look like identifiers but never name a series.
KEYWORDS = frozenset("and atan2 bool by group_left group_right ignoring inf nan offset on or unless without".split())

# Grafana's built-in interval variables, with values that are valid PromQL durations.
BUILTIN_VARIABLES = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "1h",
    "__range_s": "3600",
}

_STRING = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'|`[^`]*`')
_NAME_MATCHER = re.compile(r'__name__\s*=\s*"([^"]+)"')
_BRACES = re.compile(r"\{[^{}]*\}")
_BRACKETS = re.compile(r"\[[^\[\]]*\]")
# Label lists of grouping and vector-matching clauses: their contents are label names.
_LABEL_LIST = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)", re.IGNORECASE)
# An identifier not glued to a number, a word or a `$` (so `5m` or `$team` are not names).
_IDENTIFIER = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)(\s*\()?")
_VARIABLE = re.compile(r"\$\{([A-Za-z_]\w*)(?::\w+)?\}|\$([A-Za-z_]\w*)")
_LABEL_VALUES = re.compile(r"^\s*label_values\s*\((.*),\s*[A-Za-z_]\w*\s*\)\s*$", re.DOTALL)
_QUERY_RESULT = re.compile(r"^\s*query_result\s*\((.*)\)\s*$", re.DOTALL)


def metric_names(expr: str) -> set[str]:
    """The metric and recording-rule names that a PromQL expression selects."""
    names = set(_NAME_MATCHER.findall(expr))
    text = _STRING.sub('""', expr)
    text = _BRACES.sub(" ", text)
    text = _BRACKETS.sub(" ", text)
    text = _LABEL_LIST.sub(" ", text)
    for name, call in _IDENTIFIER.findall(text):
        if name.lower() in KEYWORDS:
            continue  # `and (`, `or (` are operators before a parenthesis, not calls
        if not call:
            names.add(name)
        elif name.lower() not in FUNCTIONS | AGGREGATIONS:
            raise ValueError(f"unknown PromQL function {name!r} in {expr!r}")
    return names


def substitute(expr: str, variables: dict[str, str]) -> str:
    """`expr` with Grafana's `$name` and `${name}` (or `${name:format}`) replaced.

    The interval variables default to BUILTIN_VARIABLES; an unknown variable is an error, so a
    misspelt variable cannot pass unnoticed.
    """
    values = {**BUILTIN_VARIABLES, **variables}

    def replace(match: re.Match) -> str:
        name = match.group(1) or match.group(2)
        if name not in values:
            raise ValueError(f"unknown template variable ${name} in {expr!r}")
        return values[name]

    return _VARIABLE.sub(replace, expr)


def variable_query_expr(query: str) -> str | None:
    """The PromQL inside a Prometheus template-variable query, or None when it selects no series.

    `label_values(sel, label)` -> `sel`; `query_result(expr)` -> `expr`; `label_values(label)`
    and `label_names()` name no metric.
    """
    for pattern in (_LABEL_VALUES, _QUERY_RESULT):
        match = pattern.match(query)
        if match:
            return match.group(1).strip()
    return None


def _panels(panels: list[dict]):
    for panel in panels:
        yield panel
        # A collapsed row keeps its panels inside it.
        yield from _panels(panel.get("panels", []))


def dashboard_queries(dashboard: dict) -> list[tuple[str, str]]:
    """(where, PromQL) for every panel target and every query template variable of a dashboard.

    `where` is the panel title, or `variable <name>` for a template variable.
    """
    queries = []
    for panel in _panels(dashboard.get("panels", [])):
        for target in panel.get("targets", []):
            if target.get("expr"):
                queries.append((panel.get("title", ""), target["expr"]))
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        expr = variable_query_expr(query or "")
        if expr:
            queries.append((f"variable {variable['name']}", expr))
    return queries
