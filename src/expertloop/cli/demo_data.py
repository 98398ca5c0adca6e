"""The demo problem set's data: the Northwind retail unit's books, the figures computed from
them, and the steps with their prompts, rubrics, references and the sample answers.

Pure data and arithmetic (no database): ``demo_seed`` writes it through the workbench.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Typographic signs for the prompts and answers (so the text reads as a finance person writes it).
MINUS, TIMES, DIVIDE = "\u2212", "\u00d7", "\u00f7"


# ---- The Northwind retail unit's books (the problem set's context) ----------------------------

CATEGORIES = ("Payroll", "Rent", "Cost of goods sold", "Marketing", "Utilities & IT")
MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# 2024 operating expenses in USD, one row per month, columns as CATEGORIES.
EXPENSES_2024: tuple[tuple[int, int, int, int, int], ...] = (
    (52_400, 18_500, 198_300, 9_800, 6_150),
    (52_400, 18_500, 187_900, 8_600, 6_020),
    (53_100, 18_500, 214_600, 11_200, 5_880),
    (53_100, 18_500, 221_800, 10_400, 5_640),
    (53_100, 18_500, 229_400, 12_900, 5_410),
    (54_300, 18_500, 236_100, 11_700, 5_730),
    (54_300, 19_050, 231_500, 9_300, 6_080),
    (54_300, 19_050, 240_200, 10_100, 6_210),
    (54_300, 19_050, 247_900, 12_600, 5_790),
    (54_900, 19_050, 258_300, 14_800, 5_960),
    (54_900, 19_050, 296_700, 19_400, 6_340),
    (56_200, 19_050, 348_600, 23_700, 6_890),
)
HEADCOUNT = 14
REVENUE_2023 = 4_120_000
REVENUE_2024 = 4_480_000
MONTHLY_RENT_2025 = 19_050
# Budget rules of step 4.
PAY_RISE = Decimal("0.035")
NEW_HIRE_MONTHS = 9
MARKETING_SHARE = Decimal("0.035")
UTILITIES_RISE = Decimal("0.04")


def _whole(value: Decimal) -> int:
    """Round to whole dollars, halves up (as a budget sheet does)."""
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def _fixed(value: Decimal, places: int) -> Decimal:
    return value.quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP)


def money(value: int | Decimal, places: int = 0) -> str:
    """Format dollars with thousands separators: ``4,010,500`` or ``3,852.98``."""
    return f"{_fixed(Decimal(value), places):,}"


def pct(value: Decimal, places: int = 1, *, sign: bool = False) -> str:
    """Format a percentage (given in percent) with a real minus sign: ``\u22124.1%``."""
    fixed = _fixed(value, places)
    text = f"{abs(fixed)}%"
    if fixed < 0:
        return MINUS + text
    return ("+" + text) if sign and fixed > 0 else text


@dataclass(frozen=True)
class Figures:
    """Every number the demo's steps ask for, computed from the context table."""

    category_totals: dict[str, int]
    total_2024: int
    shares: dict[str, Decimal]  # percent of total_2024
    monthly_totals: tuple[int, ...]
    growth: tuple[Decimal, ...]  # percent, Feb..Dec, on the previous month
    growth_wrong_base: tuple[Decimal, ...]  # percent, Feb..Dec, on the month itself (the flaw)
    revenue_growth: Decimal  # percent, 2024 on 2023
    forecast_2025: int
    cost_per_head_month: Decimal
    new_hire_cost: Decimal
    raised_payroll: Decimal
    budget: dict[str, int]
    budget_total: int
    budget_share_of_revenue: Decimal  # percent
    profit_2025: int
    margin_2025: Decimal  # percent
    margin_2024: Decimal  # percent


def figures() -> Figures:
    """Compute the reference figures (all arithmetic of the demo lives here)."""
    totals = {name: sum(row[i] for row in EXPENSES_2024) for i, name in enumerate(CATEGORIES)}
    total = sum(totals.values())
    shares = {name: Decimal(v) * 100 / total for name, v in totals.items()}
    monthly = tuple(sum(row) for row in EXPENSES_2024)
    pairs = list(itertools.pairwise(monthly))
    growth = tuple(Decimal(b - a) * 100 / a for a, b in pairs)
    wrong = tuple(Decimal(b - a) * 100 / b for a, b in pairs)
    revenue_growth = (Decimal(REVENUE_2024) / REVENUE_2023 - 1) * 100
    forecast = _whole(Decimal(REVENUE_2024) * REVENUE_2024 / REVENUE_2023)
    payroll = Decimal(totals["Payroll"])
    per_head = payroll / 12 / HEADCOUNT
    new_hire = per_head * NEW_HIRE_MONTHS
    raised = payroll * (1 + PAY_RISE)
    budget = {
        "Payroll": _whole(raised + new_hire),
        "Rent": MONTHLY_RENT_2025 * 12,
        "Cost of goods sold": _whole(
            Decimal(totals["Cost of goods sold"]) / REVENUE_2024 * forecast
        ),
        "Marketing": _whole(MARKETING_SHARE * forecast),
        "Utilities & IT": _whole(totals["Utilities & IT"] * (1 + UTILITIES_RISE)),
    }
    budget_total = sum(budget.values())
    profit = forecast - budget_total
    return Figures(
        category_totals=totals,
        total_2024=total,
        shares=shares,
        monthly_totals=monthly,
        growth=growth,
        growth_wrong_base=wrong,
        revenue_growth=revenue_growth,
        forecast_2025=forecast,
        cost_per_head_month=per_head,
        new_hire_cost=new_hire,
        raised_payroll=raised,
        budget=budget,
        budget_total=budget_total,
        budget_share_of_revenue=Decimal(budget_total) * 100 / forecast,
        profit_2025=profit,
        margin_2025=Decimal(profit) * 100 / forecast,
        margin_2024=Decimal(REVENUE_2024 - total) * 100 / REVENUE_2024,
    )


def context_text() -> str:
    """The problem set's context: the expense table, headcount, revenue and the lease."""
    header = ("Month", *CATEGORIES, "Total")
    rows = [
        (month, *(money(v) for v in row), money(sum(row)))
        for month, row in zip(MONTHS, EXPENSES_2024, strict=True)
    ]
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]

    def line(cells: tuple[str, ...]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True))
        return " | ".join((first, *rest)).rstrip()

    table = "\n".join([line(header), *(line(r) for r in rows)])
    return f"""\
Northwind Retail unit (3 stores) - expenses 2024, USD, from the ledger

{table}

Headcount: {HEADCOUNT} full-time staff all through 2024 (no hires or leavers; pay rises and \
seasonal overtime explain the payroll steps).
Revenue: 2023 {money(REVENUE_2023)}; 2024 {money(REVENUE_2024)}.
Lease: rent rose from 18,500 to {money(MONTHLY_RENT_2025)} a month in July 2024 and is fixed at \
{money(MONTHLY_RENT_2025)} until June 2026.
Fiscal year = calendar year."""


STATEMENT = """\
I run Northwind's retail unit: three stores, 14 staff. Before January's planning meeting I must \
show the regional director where last year's money went, how fast our costs grew during the \
year, what revenue to expect next year, and a budget by category that I can defend line by line.

The figures in the context come straight from our ledger. Work only from them, show every \
calculation, and tell me plainly when the numbers do not support a conclusion."""


# ---- The half-done problem set ----------------------------------------------------------------

PROBLEM_SET_TITLE = (
    "Track the Northwind retail unit's expenses, forecast growth and draft next year's budget"
)
SEEDED_NOTE = "Sample answer stored by `expertloop demo`; the model was not called."


@dataclass(frozen=True)
class StepSpec:
    """One step of the demo problem set as its first revision states it."""

    title: str
    prompt: str
    rubric: tuple[str, ...]
    reference: str
    chain: bool = False


@dataclass(frozen=True)
class DemoProblem:
    """The whole problem set: steps 1 to 4 and sub-step 4.1, step 2's second revision, answers."""

    steps: tuple[StepSpec, ...]  # in outline order: 1, 2, 3, 4, 4.1
    step2_revision2: StepSpec
    step2_revision2_reason: str
    answer1: str
    answer1_offscope: str  # a sentence of answer1, annotated as a minor fault
    answer2: str
    answer2_error: str  # a span of answer2, annotated as a major calculation error
    answer2_error_note: str


def demo_problem(fig: Figures | None = None) -> DemoProblem:
    """Build the problem set's texts from the computed figures."""
    fig = fig or figures()
    largest = max(fig.category_totals, key=fig.category_totals.__getitem__)
    smallest = min(fig.category_totals, key=fig.category_totals.__getitem__)
    totals_ref = "; ".join(
        f"{name} {money(v)} ({pct(fig.shares[name])})" for name, v in fig.category_totals.items()
    )
    step1 = StepSpec(
        title="Categorise and total 2024 expenses",
        prompt=(
            "Using the 2024 expense table in the context, total each of the five expense "
            "categories for the year, give the grand total, and give each category's share of "
            "the grand total as a percentage with one decimal. Present the result as a table, "
            "then name the largest and the smallest category."
        ),
        rubric=(
            "Totals each of the five categories correctly (see the reference)",
            "Gives the correct grand total for 2024",
            "Gives each category's share of the total to one decimal",
            "Names the largest and the smallest category",
        ),
        reference=(
            f"{totals_ref}. Total {money(fig.total_2024)}. "
            f"Largest: {largest}; smallest: {smallest}."
        ),
    )
    monthly_ref = "; ".join(
        f"{m} {money(v)}" for m, v in zip(MONTHS, fig.monthly_totals, strict=True)
    )
    growth_ref = ", ".join(
        f"{m} {pct(g, sign=True)}" for m, g in zip(MONTHS[1:], fig.growth, strict=True)
    )
    fastest = max(range(len(fig.growth)), key=fig.growth.__getitem__)
    steepest_fall = min(range(len(fig.growth)), key=fig.growth.__getitem__)
    step2_prompt = (
        "How did Northwind Retail's total monthly expenses develop through 2024? Give each "
        "month's total and the month-over-month growth for every month from February to "
        "December, then say which month grew fastest."
    )
    step2_reference = (
        f"Monthly totals: {monthly_ref}. Growth on the previous month: {growth_ref}. "
        f"Fastest: {MONTHS[fastest + 1]} {pct(fig.growth[fastest], sign=True)}; "
        f"largest fall: {MONTHS[steepest_fall + 1]} {pct(fig.growth[steepest_fall])}."
    )
    step2 = StepSpec(
        title="Month-over-month growth of total expenses",
        prompt=step2_prompt,
        rubric=(
            "Gives the total expenses of each month of 2024",
            "Growth rates for February to December are correct to one decimal (see the reference)",
            "Names the fastest-growing month with its correct rate",
        ),
        reference=step2_reference,
    )
    step2_rev2 = StepSpec(
        title=step2.title,
        prompt=(
            f"{step2_prompt}\n\nCompute each month's growth as (this month's total {MINUS} "
            f"previous month's total) {DIVIDE} previous month's total, in percent with one "
            "decimal. Also name the month with the largest fall."
        ),
        rubric=(
            "Gives the total expenses of each month of 2024",
            "Uses the previous month's total as the base of every rate",
            "Growth rates for February to December are correct to one decimal (see the reference)",
            "Names the fastest-growing month and the largest fall, with their correct rates",
        ),
        reference=step2_reference,
    )
    growth_pct = pct(fig.revenue_growth, 2)
    step3 = StepSpec(
        title="Forecast 2025 revenue",
        prompt=(
            "Forecast the unit's revenue for 2025. Method: take 2024's year-over-year revenue "
            f"growth (2024 revenue {DIVIDE} 2023 revenue {MINUS} 1) and apply it once more to "
            "2024 revenue. State the growth rate as a percentage with two decimals and the "
            "forecast rounded to the nearest dollar, then name one risk of forecasting this way."
        ),
        rubric=(
            "States the 2024 growth rate and how it was computed",
            "The forecast follows the stated method and is right to the dollar (see the reference)",
            "Names a real risk of extrapolating one year's growth",
        ),
        reference=(
            f"Growth 2024: {money(REVENUE_2024)} {DIVIDE} {money(REVENUE_2023)} {MINUS} 1 = "
            f"{growth_pct}. Forecast 2025: {money(REVENUE_2024)} {TIMES} "
            f"{money(REVENUE_2024)} {DIVIDE} {money(REVENUE_2023)} = "
            f"{money(fig.forecast_2025)}."
        ),
    )
    payroll = fig.category_totals["Payroll"]
    cogs = fig.category_totals["Cost of goods sold"]
    utilities = fig.category_totals["Utilities & IT"]
    b = fig.budget
    step4 = StepSpec(
        title="Draft the 2025 budget by category",
        prompt=(
            "Draft Northwind Retail's 2025 expense budget by category with these rules, showing "
            "each line's calculation and rounding each line to the nearest dollar:\n"
            f"- Payroll: 2024 payroll plus a {pct(PAY_RISE * 100)} pay rise, plus one new hire "
            "from 1 April at 2024's average monthly cost per head (2024 payroll "
            f"{DIVIDE} 12 {DIVIDE} {HEADCOUNT} staff) for {NEW_HIRE_MONTHS} months.\n"
            f"- Rent: {money(MONTHLY_RENT_2025)} a month for 12 months (the lease is fixed).\n"
            "- Cost of goods sold: 2024's cost of goods as a share of 2024 revenue, applied to "
            "the 2025 revenue forecast from the previous step.\n"
            f"- Marketing: {pct(MARKETING_SHARE * 100)} of the 2025 revenue forecast.\n"
            f"- Utilities & IT: 2024 plus {pct(UTILITIES_RISE * 100, 0)}.\n"
            "End with the budget total."
        ),
        rubric=(
            "Follows each of the five rules (see the reference)",
            "Uses the 2025 revenue forecast from the previous step, not 2024 revenue",
            "Shows each line's calculation",
            "The budget total is the sum of the rounded lines",
        ),
        reference=(
            f"Payroll: {money(payroll)} {TIMES} {1 + PAY_RISE} = {money(fig.raised_payroll, 2)}, "
            f"plus {money(fig.cost_per_head_month, 2)} {TIMES} {NEW_HIRE_MONTHS} = "
            f"{money(fig.new_hire_cost, 2)}: {money(b['Payroll'])}. "
            f"Rent: {money(MONTHLY_RENT_2025)} {TIMES} 12 = {money(b['Rent'])}. "
            f"Cost of goods sold: {money(cogs)} {DIVIDE} {money(REVENUE_2024)} {TIMES} "
            f"{money(fig.forecast_2025)} = {money(b['Cost of goods sold'])}. "
            f"Marketing: {pct(MARKETING_SHARE * 100)} {TIMES} {money(fig.forecast_2025)} = "
            f"{money(b['Marketing'])}. "
            f"Utilities & IT: {money(utilities)} {TIMES} {1 + UTILITIES_RISE} = "
            f"{money(b['Utilities & IT'])}. Total: {money(fig.budget_total)}."
        ),
        chain=True,
    )
    change = _fixed(fig.margin_2025, 2) - _fixed(fig.margin_2024, 2)
    verdict = (
        f"The margin falls by {abs(change)} points: more than one point."
        if change < -1
        else f"The margin {'rises' if change >= 0 else 'falls'} by {abs(change)} points: "
        "not a fall of more than one point."
    )
    step4_1 = StepSpec(
        title="Check the budget against the forecast",
        prompt=(
            "Check the draft budget against the revenue forecast: give the budgeted expenses as "
            "a share of forecast revenue (one decimal), the projected 2025 operating profit "
            "(forecast revenue minus budgeted expenses) and margin (two decimals), compare the "
            "margin with 2024's (2024 revenue minus 2024 expenses, over 2024 revenue), and say "
            "whether the margin falls by more than one percentage point."
        ),
        rubric=(
            "Budgeted expenses as a share of forecast revenue are correct (see the reference)",
            "The 2025 operating profit and margin are correct",
            "Compares with the correct 2024 margin and answers the one-point question",
        ),
        reference=(
            f"Budget {DIVIDE} forecast = {money(fig.budget_total)} {DIVIDE} "
            f"{money(fig.forecast_2025)} = {pct(fig.budget_share_of_revenue)}. "
            f"Operating profit 2025: {money(fig.forecast_2025)} {MINUS} "
            f"{money(fig.budget_total)} = {money(fig.profit_2025)}; margin "
            f"{pct(fig.margin_2025, 2)}. Margin 2024: ({money(REVENUE_2024)} {MINUS} "
            f"{money(fig.total_2024)}) {DIVIDE} {money(REVENUE_2024)} = "
            f"{pct(fig.margin_2024, 2)}. {verdict}"
        ),
        chain=True,
    )

    table = "\n".join(
        f"| {name} | {money(v)} | {pct(fig.shares[name])} |"
        for name, v in fig.category_totals.items()
    )
    offscope = "To cut costs, you could also renegotiate the store lease next year."
    answer1 = (
        "Here are Northwind Retail's 2024 expenses by category:\n\n"
        "| Category | 2024 total (USD) | Share |\n|---|---:|---:|\n"
        f"{table}\n| **Total** | **{money(fig.total_2024)}** | **100.0%** |\n\n"
        f"{largest} is by far the largest category ({pct(fig.shares[largest])} of spending) "
        f"and {smallest} the smallest ({pct(fig.shares[smallest])}).\n\n{offscope}"
    )
    lines = [f"- {MONTHS[0]}: {money(fig.monthly_totals[0])}"]
    for m, total, g in zip(MONTHS[1:], fig.monthly_totals[1:], fig.growth_wrong_base, strict=True):
        lines.append(f"- {m}: {money(total)} ({pct(g, sign=True)})")
    dec, nov = fig.monthly_totals[-1], fig.monthly_totals[-2]
    wrong_dec = fig.growth_wrong_base[-1]
    error_span = f"({money(dec)} {MINUS} {money(nov)}) / {money(dec)} = {pct(wrong_dec)}"
    wrong = fig.growth_wrong_base
    wrong_fastest = max(range(len(wrong)), key=wrong.__getitem__)
    falls = [MONTH_NAMES[i + 1] for i, g in enumerate(wrong) if g < 0]
    answer2 = (
        "Total monthly expenses in 2024, with month-over-month growth:\n\n"
        + "\n".join(lines)
        + "\n\nEach month's growth is the change divided by that month's total, e.g. December: "
        f"{error_span}.\n\n"
        f"{MONTH_NAMES[wrong_fastest + 1]} grew fastest "
        f"({pct(wrong[wrong_fastest], sign=True)}), driven by holiday stock "
        f"purchases; {' and '.join(falls)} were the only months in which spending fell."
    )
    note = (
        "Growth is divided by the current month instead of the previous one, so every rise is "
        f"understated: December is ({money(dec)} {MINUS} {money(nov)}) / {money(nov)} = "
        f"{pct(fig.growth[-1], sign=True)}, not {pct(wrong_dec, sign=True)}. The prompt never "
        "said which month is the base."
    )
    return DemoProblem(
        steps=(step1, step2, step3, step4, step4_1),
        step2_revision2=step2_rev2,
        step2_revision2_reason=(
            "The model divided by the current month: the prompt now spells out the formula "
            "(previous month as the base) and asks for the largest fall too."
        ),
        answer1=answer1,
        answer1_offscope=offscope,
        answer2=answer2,
        answer2_error=error_span,
        answer2_error_note=note,
    )
