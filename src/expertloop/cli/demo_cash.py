"""The accepted demo problem set's data: the Northwind stores' Q1 2025 sales, payment terms and
fixed costs, every figure computed from them, and the steps' prompts, rubrics and answers.

Pure data and arithmetic (no database): ``demo_accepted`` writes it through the workbench.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from expertloop.cli.demo_data import MINUS, TIMES, money

TITLE = "Forecast the Northwind stores' cash flow for Q1 2025 and check the minimum balance"

# ---- The context: sales by store, payment terms and fixed costs (USD) -------------------------

STORES = ("Harbour Street", "Mill Lane", "Station Road")
Q1 = ("January", "February", "March")
# December 2024 (actual), then January to March 2025 (forecast), per store.
SALES: dict[str, tuple[int, int, int, int]] = {
    "Harbour Street": (168_000, 112_000, 104_000, 121_000),
    "Mill Lane": (131_000, 86_000, 81_000, 94_000),
    "Station Road": (97_000, 71_000, 66_000, 78_000),
}
PAYROLL = {"Harbour Street": 19_800, "Mill Lane": 16_200, "Station Road": 14_400}
RENT = {"Harbour Street": 7_400, "Mill Lane": 6_150, "Station Road": 5_500}
IN_MONTH_PCT, TRADE_PCT, GOODS_PCT = 70, 30, 65
SALES_TAX_JANUARY = 41_300
OPENING_CASH = 82_000
MINIMUM_CASH = 40_000


def _pct(value: int, percent: int) -> int:
    share, rest = divmod(value * percent, 100)
    assert rest == 0, "the demo's figures are whole dollars"
    return share


@dataclass(frozen=True)
class CashFigures:
    """Every number the steps ask for, computed from the context."""

    receipts: dict[str, tuple[int, int, int]]  # per store, January to March
    receipts_total: tuple[int, int, int]
    sales_total: tuple[int, int, int, int]  # December, then January to March
    goods: tuple[int, int, int]  # paid in the month, for the previous month's purchases
    payroll: int
    rent: int
    payments: tuple[int, int, int]
    net: tuple[int, int, int]
    closing: tuple[int, int, int]


def _three(values: list[int]) -> tuple[int, int, int]:
    first, second, third = values
    return first, second, third


def cash_figures() -> CashFigures:
    """Compute the reference figures (all arithmetic of this problem set lives here)."""
    receipts = {
        store: _three([_pct(s[m], IN_MONTH_PCT) + _pct(s[m - 1], TRADE_PCT) for m in (1, 2, 3)])
        for store, s in SALES.items()
    }
    dec, jan, feb, mar = (sum(s[m] for s in SALES.values()) for m in range(4))
    receipts_total = _three([sum(r[m] for r in receipts.values()) for m in range(3)])
    goods = _three([_pct(v, GOODS_PCT) for v in (dec, jan, feb)])
    payroll, rent = sum(PAYROLL.values()), sum(RENT.values())
    payments = _three(
        [goods[m] + payroll + rent + (SALES_TAX_JANUARY if m == 0 else 0) for m in range(3)]
    )
    net = _three([r - p for r, p in zip(receipts_total, payments, strict=True)])
    closing: list[int] = []
    for flow in net:
        closing.append((closing[-1] if closing else OPENING_CASH) + flow)
    return CashFigures(
        receipts=receipts,
        receipts_total=receipts_total,
        sales_total=(dec, jan, feb, mar),
        goods=goods,
        payroll=payroll,
        rent=rent,
        payments=payments,
        net=net,
        closing=_three(closing),
    )


def _signed(value: int) -> str:
    return (MINUS if value < 0 else "+") + money(abs(value))


def context_text() -> str:
    """The problem set's context: sales per store, payment terms, payroll, rent, cash rules."""
    rows = "\n".join(
        f"| {store} | " + " | ".join(money(v) for v in SALES[store]) + " |" for store in STORES
    )
    costs = "\n".join(
        f"| {store} | {money(PAYROLL[store])} | {money(RENT[store])} |" for store in STORES
    )
    return f"""\
Northwind Retail unit (3 stores) - cash plan for Q1 2025, USD

Sales by store (December 2024 actual; January to March 2025 forecast):

| Store | Dec 2024 | Jan 2025 | Feb 2025 | Mar 2025 |
|---|---:|---:|---:|---:|
{rows}

Payment terms: walk-in customers pay at the till ({IN_MONTH_PCT}% of each store's sales); trade \
customers ({TRADE_PCT}% of sales) are invoiced and pay in the month after the sale.
Goods: purchases are {GOODS_PCT}% of the month's sales and are paid to suppliers the following \
month (30-day terms).

Monthly payroll and rent, paid in the month:

| Store | Payroll | Rent |
|---|---:|---:|
{costs}

Sales tax for Q4 2024: {money(SALES_TAX_JANUARY)}, due 31 January 2025.
Cash at bank on 1 January 2025: {money(OPENING_CASH)}. Policy: the unit holds at least \
{money(MINIMUM_CASH)} at every month end."""


STATEMENT = """\
Our regional director wants to know before the year starts whether the retail unit's cash \
holds up through the quiet first quarter. January collects December's trade invoices but also \
pays December's big stock bill and the quarterly sales tax.

Work only from the figures in the context, month by month, and show how each number follows. \
Tell me in which months we fall below the minimum balance and by how much."""


@dataclass(frozen=True)
class CashProblem:
    """The texts of the three steps, their revisions, the stored answers and the faults."""

    step1_prompt: str
    step1_rubric: tuple[str, ...]
    step1_prompt_ambiguous: str  # a span of step1_prompt, annotated prompt-side
    step1_prompt_note: str
    step1_rev2_prompt: str
    step1_rev2_rubric: tuple[str, ...]
    step1_reference: str
    step1_rev2_reason: str
    answer1_1: str
    answer1_1_fault: str
    answer1_1_fault_note: str
    answer1_2: str
    step2_prompt: str
    step2_rubric: tuple[str, ...]
    step2_reference: str
    answer2: str
    answer2_offscope: str
    step3_prompt: str
    step3_rubric: tuple[str, ...]
    step3_reference: str
    answer3: str
    answer3_error: str
    answer3_error_note: str
    ideal3: str
    review_comment: str


def _receipts_table(rows: Mapping[str, tuple[int, ...]], total: tuple[int, ...]) -> str:
    lines = ["| Store | January | February | March |", "|---|---:|---:|---:|"]
    lines += [f"| {s} | " + " | ".join(money(v) for v in rows[s]) + " |" for s in STORES]
    lines.append("| **Unit total** | " + " | ".join(f"**{money(v)}**" for v in total) + " |")
    return "\n".join(lines)


def _roll_forward(closing: tuple[int, ...], fig: CashFigures) -> str:
    lines = [
        "| Month | Opening | Receipts | Payments | Net flow | Closing |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    opening = OPENING_CASH
    for m, month in enumerate(Q1):
        cells = (opening, fig.receipts_total[m], fig.payments[m])
        lines.append(
            f"| {month} | "
            + " | ".join(money(v) for v in cells)
            + f" | {_signed(fig.net[m])} | {money(closing[m])} |"
        )
        opening = closing[m]
    return "\n".join(lines)


def cash_problem(fig: CashFigures | None = None) -> CashProblem:
    """Build the problem set's texts from the computed figures."""
    fig = fig or cash_figures()
    ambiguous = "cash in from sales"
    sales_q1 = {store: s[1:] for store, s in SALES.items()}
    receipts_ref = "; ".join(
        f"{s}: "
        + ", ".join(f"{m[:3]} {money(v)}" for m, v in zip(Q1, fig.receipts[s], strict=True))
        for s in STORES
    )
    totals_ref = ", ".join(
        f"{m[:3]} {money(v)}" for m, v in zip(Q1, fig.receipts_total, strict=True)
    )
    step1_reference = f"{receipts_ref}. Unit: {totals_ref}."
    fault1 = "Each store's cash in equals its forecast sales for the month"
    answer1_1 = (
        f"Cash in from sales, Q1 2025 (USD):\n\n"
        f"{_receipts_table(sales_q1, fig.sales_total[1:])}\n\n"
        f"{fault1}, since those sales are made in that month."
    )
    dec_trade = _pct(fig.sales_total[0], TRADE_PCT)
    answer1_2 = (
        f"Receipts = {IN_MONTH_PCT}% of the month's sales + {TRADE_PCT}% of the previous "
        f"month's sales (trade invoices), per store:\n\n"
        f"{_receipts_table(fig.receipts, fig.receipts_total)}\n\n"
        f"January is the strongest month for receipts although its sales are lower: it collects "
        f"{money(dec_trade)} of December's trade invoices ({TRADE_PCT}% of "
        f"{money(fig.sales_total[0])})."
    )
    goods_ref = ", ".join(f"{m[:3]} {money(v)}" for m, v in zip(Q1, fig.goods, strict=True))
    pay_ref = ", ".join(f"{m[:3]} {money(v)}" for m, v in zip(Q1, fig.payments, strict=True))
    offscope = "You might also ask suppliers for 45-day terms to ease January."
    pay_lines = "\n".join(
        f"- {m}: goods {money(fig.goods[i])} ({GOODS_PCT}% of "
        f"{money(fig.sales_total[i])}) + payroll {money(fig.payroll)} + rent {money(fig.rent)}"
        + (f" + sales tax {money(SALES_TAX_JANUARY)}" if i == 0 else "")
        + f" = **{money(fig.payments[i])}**"
        for i, m in enumerate(Q1)
    )
    answer2 = (
        "Cash payments of the unit, by line and month (USD):\n\n"
        f"{pay_lines}\n\nGoods are paid a month after purchase, so January pays for "
        f"December's stock. {offscope}"
    )
    wrong = (fig.closing[0], fig.closing[1] - 1_000, fig.closing[2] - 1_000)
    error = f"{money(fig.closing[0])} + {money(fig.net[1])} = {money(wrong[1])}"
    right = f"{money(fig.closing[0])} + {money(fig.net[1])} = {money(fig.closing[1])}"

    def verdict(closing: tuple[int, ...]) -> str:
        short = [
            f"{Q1[m]} (short by {money(MINIMUM_CASH - c)})"
            for m, c in enumerate(closing)
            if c < MINIMUM_CASH
        ]
        return (
            f"The balance is below the {money(MINIMUM_CASH)} minimum at the end of "
            + " and ".join(short)
            + f"; by March it recovers to {money(closing[2])}."
        )

    answer3 = (
        f"Cash roll-forward, Q1 2025 (USD):\n\n{_roll_forward(wrong, fig)}\n\n"
        f"February: {error}.\n\n{verdict(wrong)}"
    )
    ideal3 = (
        f"Cash roll-forward, Q1 2025 (USD):\n\n{_roll_forward(fig.closing, fig)}\n\n"
        f"February: {right}.\n\n{verdict(fig.closing)} To hold the minimum, the unit needs "
        f"{money(MINIMUM_CASH - fig.closing[0])} of extra cash by the end of January (an "
        "overdraft, or moving part of the sales tax or the stock bill; none of them is in the "
        f"plan yet), and still {money(MINIMUM_CASH - fig.closing[1])} of it at the end of February."
    )
    closing_ref = "; ".join(
        f"{m[:3]} net {_signed(n)}, closing {money(c)}"
        for m, n, c in zip(Q1, fig.net, fig.closing, strict=True)
    )
    return CashProblem(
        step1_prompt=(
            f"Using the sales forecast in the context, give each store's {ambiguous} for "
            "January, February and March 2025, and the unit's total per month, as a table."
        ),
        step1_rubric=(
            "Gives a figure for each store and month",
            "The figures are right for every store and month (see the reference)",
            "Gives the unit's total per month",
        ),
        step1_prompt_ambiguous=ambiguous,
        step1_prompt_note=(
            "Reads as the sales made in the month or the money received in it; the prompt does "
            "not say which, and the model took sales."
        ),
        step1_rev2_prompt=(
            "Using the sales forecast and the payment terms in the context, compute each "
            "store's cash receipts (money actually received) in January, February and March "
            f"2025: {IN_MONTH_PCT}% of a month's sales arrive in that month and the other "
            f"{TRADE_PCT}% (trade invoices) in the month after, so January also collects "
            f"{TRADE_PCT}% of December 2024's sales. Give a table store {TIMES} month with the "
            "unit's total per month, and show the formula."
        ),
        step1_rev2_rubric=(
            f"Collects {IN_MONTH_PCT}% of each month's sales in the month and {TRADE_PCT}% in "
            "the month after",
            "Includes December 2024's trade invoices in January",
            "Receipts are right for every store and month (see the reference)",
            "Gives the unit's total per month",
        ),
        step1_reference=step1_reference,
        step1_rev2_reason=(
            f"The prompt's '{ambiguous}' was ambiguous (see its annotation): the model reported "
            "sales made as cash received. The prompt now asks for receipts and spells out the "
            f"{IN_MONTH_PCT}/{TRADE_PCT} timing, December's trade invoices included."
        ),
        answer1_1=answer1_1,
        answer1_1_fault=fault1,
        answer1_1_fault_note=(
            f"Trade customers ({TRADE_PCT}% of sales) pay the month after the sale, as the "
            f"context says: January also collects {money(dec_trade)} of December's invoices "
            "and each month's own trade invoices arrive a month later. Receipts are not sales."
        ),
        answer1_2=answer1_2,
        step2_prompt=(
            "List the unit's cash payments for January, February and March 2025 by line: goods "
            "(paid the month after purchase), payroll, rent and the sales tax due in January. "
            "Give each month's total."
        ),
        step2_rubric=(
            f"Pays each month's goods at {GOODS_PCT}% of the previous month's sales",
            "Includes payroll, rent and the January sales tax",
            "Each month's total is right (see the reference)",
        ),
        step2_reference=(
            f"Goods: {goods_ref}. Payroll {money(fig.payroll)} and rent {money(fig.rent)} a "
            f"month; sales tax {money(SALES_TAX_JANUARY)} in January. Totals: {pay_ref}."
        ),
        answer2=answer2,
        answer2_offscope=offscope,
        step3_prompt=(
            f"Roll the unit's cash forward from the {money(OPENING_CASH)} at bank on 1 January, "
            "using the receipts and payments of the previous steps: for each month give the "
            "opening balance, receipts, payments, net flow and closing balance. Then say in "
            f"which months the closing balance is below the {money(MINIMUM_CASH)} minimum and "
            "by how much."
        ),
        step3_rubric=(
            "Each month opens with the previous month's closing balance",
            "Net flow and closing balance are right for every month (see the reference)",
            "Names each month below the minimum with its correct shortfall",
        ),
        step3_reference=(
            f"Net flow and closing: {closing_ref}. Below the minimum: January by "
            f"{money(MINIMUM_CASH - fig.closing[0])}, February by "
            f"{money(MINIMUM_CASH - fig.closing[1])}."
        ),
        answer3=answer3,
        answer3_error=error,
        answer3_error_note=(
            f"The February sum is wrong by 1,000: {right}. The error carries into March "
            f"({money(wrong[2])} instead of {money(fig.closing[2])}) and February's shortfall "
            f"({money(MINIMUM_CASH - wrong[1])} instead of {money(MINIMUM_CASH - fig.closing[1])})."
        ),
        ideal3=ideal3,
        review_comment=(
            "Accepted: the receipts revision closes the ambiguity, and the ideal answer of the "
            "roll-forward is right to the dollar."
        ),
    )
