"""Synthetic shops' training exports, for train.py's tests.

Simulates a shop's customers (orders, refunds, interactions, reviews) with
a seeded generator and writes the CSV `churn export-features` would write
for them: `customer,cutoff,split,<the 17 features in Rust's order>,churned`,
one row per formal customer and cut-off, cut-offs as
`TrainingCutoffs::monthly` picks them, features computed as
`History::features` computes them (shared/domain/src/churn/features.rs),
numbers printed the way Rust prints an f32.

Purchases follow the BG/NBD story: each customer buys at a Poisson rate of
their own and, after each purchase, may leave for good. With `dropout=0`
nobody leaves (a shop of regular buyers such as Superstore's office-supply
accounts): lifetimes' unpenalised BG/NBD fit then drives the dropout
parameters to zero and stops with a ConvergenceError.

    python synthetic_export.py --out features.csv --dropout 0 --seed 1

No third-party data: everything comes from the generator.
"""

import argparse
import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

FEATURES = [
    "recency_days",
    "tenure_days",
    "ln_purchases",
    "ln_repeat_days",
    "ln_spend_total",
    "ln_spend_mean",
    "ln_items_per_order",
    "mean_interval_days",
    "interval_cv",
    "recency_over_interval",
    "ln_purchases_90d",
    "spend_trend",
    "return_share",
    "ln_inquiries_90d",
    "ln_complaints_90d",
    "review_attitude",
    "days_since_interaction",
]
HEADER = ["customer", "cutoff", "split", *FEATURES, "churned"]
RECENT_DAYS = 90
INTERACTION_DAYS_CAP = 365.0
OVERDUE_CAP = 50.0
MIN_HISTORY_DAYS = 90
DAY = 86_400


@dataclass
class Order:
    at: int  # seconds since the epoch, UTC
    total: float  # major units
    items: int
    purchase: bool  # Paid/Shipped; False for Refunded/Cancelled


@dataclass
class Customer:
    key: str
    orders: list = field(default_factory=list)
    interactions: list = field(default_factory=list)  # (at, is_complaint)
    reviews: list = field(default_factory=list)  # (at, rating 1..5)


def f32(x):
    return np.float32(x)


def days_between(earlier, later):
    return f32((later - earlier) / DAY)


def rust_f32(x):
    """An f32 as Rust's `{}` prints it: shortest round-trip, never exponents."""
    return np.format_float_positional(np.float32(x), unique=True, trim="-")


@dataclass
class Segment:
    """Customers alike: their share of the shop, their chance of leaving
    after a purchase (a number, or (a, b) of a Beta distribution), their
    purchase rates a day (Gamma with this shape and mean) and how regular
    their gaps are (Gamma-distributed with this shape: 1 is a Poisson
    process, larger is closer to clockwork)."""
    share: float
    dropout: object
    rate_mean: float
    rate_shape: float = 2.0
    regularity: float = 1.0


def simulate(seed, customers, start, days, segments):
    """Customers joining over the first half of `days` from `start`."""
    rng = np.random.default_rng(seed)
    origin = int(datetime(start.year, start.month, start.day, tzinfo=timezone.utc).timestamp())
    end = origin + days * DAY
    shares = np.array([s.share for s in segments], dtype=float)
    kinds = rng.choice(len(segments), size=customers, p=shares / shares.sum())
    shop = []
    for i in range(customers):
        c = Customer(key=f"synthetic:c{i:05d}")
        s = segments[kinds[i]]
        rate = rng.gamma(s.rate_shape, s.rate_mean / s.rate_shape)  # purchases a day
        leave = s.dropout if np.isscalar(s.dropout) else rng.beta(*s.dropout)
        at = origin + int(rng.uniform(0, days / 2) * DAY)
        basket = rng.lognormal(3.5, 0.8)
        while at < end:
            refunded = rng.random() < 0.04
            c.orders.append(Order(
                at=at,
                total=round(basket * rng.lognormal(0.0, 0.3), 2),
                items=int(rng.integers(1, 6)),
                purchase=not refunded,
            ))
            if not refunded and rng.random() < leave:
                break
            gap = rng.gamma(s.regularity, 1.0 / (rate * s.regularity))
            at += max(int(gap * DAY), DAY // 24)
        for _ in range(rng.poisson(1.5)):
            first = c.orders[0].at
            c.interactions.append((int(rng.uniform(first, end)), bool(rng.random() < 0.3)))
        for o in c.orders:
            if rng.random() < 0.15:
                c.reviews.append((o.at + 3 * DAY, int(rng.integers(1, 6))))
        shop.append(c)
    return shop


def monthly_cutoffs(first, last, horizon_days, max_train):
    """TrainingCutoffs::monthly: (training cut-offs, holdout), as dates."""
    end = last + timedelta(days=1)
    holdout = end - timedelta(days=horizon_days)
    earliest = first + timedelta(days=MIN_HISTORY_DAYS)
    month, train = date(first.year, first.month, 1), []
    while month + timedelta(days=horizon_days) <= holdout:
        if month >= earliest:
            train.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return train[max(len(train) - max_train, 0):], holdout


def features(c, as_of):
    """History::features, or None for a customer without a purchase yet."""
    purchases = sorted((o for o in c.orders if o.purchase and o.at < as_of), key=lambda o: o.at)
    if not purchases:
        return None
    v = dict.fromkeys(FEATURES, f32(0.0))
    count = f32(len(purchases))
    recency = days_between(purchases[-1].at, as_of)
    v["recency_days"] = recency
    v["tenure_days"] = days_between(purchases[0].at, as_of)
    v["ln_purchases"] = np.log1p(count)
    days = sorted({o.at // DAY for o in purchases})
    v["ln_repeat_days"] = np.log1p(f32(len(days) - 1))
    gaps = [f32(b - a) for a, b in zip(days, days[1:])]
    if gaps:
        mean = f32(sum(gaps, f32(0.0)) / f32(len(gaps)))
        v["mean_interval_days"] = mean
        v["recency_over_interval"] = min(f32(recency / max(mean, f32(1.0))), f32(OVERDUE_CAP))
        if len(gaps) >= 2 and mean > 0:
            variance = f32(sum(((g - mean) ** 2 for g in gaps), f32(0.0)) / f32(len(gaps)))
            v["interval_cv"] = f32(np.sqrt(variance) / mean)
    spend = sum(o.total for o in purchases)
    v["ln_spend_total"] = np.log1p(f32(spend))
    v["ln_spend_mean"] = np.log1p(f32(spend / len(purchases)))
    items = f32(sum(o.items for o in purchases))
    v["ln_items_per_order"] = np.log1p(f32(items / count))
    recent_start = as_of - RECENT_DAYS * DAY
    before_start = recent_start - RECENT_DAYS * DAY

    def spend_in(lo, hi):
        return f32(sum(o.total for o in purchases if lo <= o.at < hi))

    v["ln_purchases_90d"] = np.log1p(f32(sum(o.at >= recent_start for o in purchases)))
    v["spend_trend"] = f32(np.log1p(spend_in(recent_start, as_of))
                           - np.log1p(spend_in(before_start, recent_start)))
    placed = [o for o in c.orders if o.at < as_of]
    v["return_share"] = f32(f32(sum(not o.purchase for o in placed)) / f32(len(placed)))
    known = [(at, complaint) for at, complaint in c.interactions if at < as_of]
    v["ln_inquiries_90d"] = np.log1p(
        f32(sum(at >= recent_start and not k for at, k in known)))
    v["ln_complaints_90d"] = np.log1p(f32(sum(at >= recent_start and k for at, k in known)))
    v["days_since_interaction"] = (
        min(days_between(max(at for at, _ in known), as_of), f32(INTERACTION_DAYS_CAP))
        if known else f32(INTERACTION_DAYS_CAP))
    scores = [f32((rating - 3.0) / 2.0) for at, rating in c.reviews if at < as_of]
    v["review_attitude"] = f32(sum(scores, f32(0.0)) / f32(len(scores))) if scores else f32(0.0)
    return v


def churned_after(c, as_of, horizon_days):
    end = as_of + horizon_days * DAY
    return not any(o.purchase and as_of <= o.at < end for o in c.orders)


def write_export(path, segments, *, seed=1, customers=500, days=3 * 365,
                 horizon_days=90, max_train=12, start=date(2014, 1, 1)):
    """Simulates a shop of these segments and writes its export to `path`;
    returns `path`."""
    shop = simulate(seed, customers, start, days, segments)
    bought = [o.at for c in shop for o in c.orders if o.purchase]
    first = datetime.fromtimestamp(min(bought), timezone.utc).date()
    last = datetime.fromtimestamp(max(bought), timezone.utc).date()
    train, holdout = monthly_cutoffs(first, last, horizon_days, max_train)
    shop.sort(key=lambda c: c.key)
    lines = [",".join(HEADER)]
    for cutoff in [*train, holdout]:
        split = "holdout" if cutoff == holdout else "train"
        as_of = int(datetime(cutoff.year, cutoff.month, cutoff.day,
                             tzinfo=timezone.utc).timestamp())
        for c in shop:
            v = features(c, as_of)
            if v is None:
                continue
            values = ",".join(rust_f32(v[f]) for f in FEATURES)
            churned = int(churned_after(c, as_of, horizon_days))
            lines.append(f"{c.key},{cutoff.isoformat()},{split},{values},{churned}")
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def main():
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--out", type=Path, required=True)
    args.add_argument("--seed", type=int, default=1)
    args.add_argument("--customers", type=int, default=500)
    args.add_argument("--dropout", type=float, default=0.0,
                      help="every customer's chance of leaving after a purchase")
    args.add_argument("--horizon-days", type=int, default=90)
    opts = args.parse_args()
    write_export(opts.out, seed=opts.seed, customers=opts.customers,
                 dropout=opts.dropout, horizon_days=opts.horizon_days)


if __name__ == "__main__":
    main()
