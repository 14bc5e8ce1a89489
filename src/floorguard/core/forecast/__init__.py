"""Forward-looking risk signals: GARCH vol, regimes, jumps/EVT, events, credit, sentiment.

Every output is an estimate and is labelled as such.
"""

from floorguard.core.forecast._events import (
    EVENT_TYPES,
    Event,
    EventMove,
    classify_event,
    expected_event_moves,
    fomc_events,
    parse_events_csv,
    parse_ics,
)
from floorguard.core.forecast._garch import (
    GarchFit,
    VolForecast,
    VolRiskPremium,
    fit_garch,
    forecast_vol,
    garch_filter,
    implied_vol_from_vix,
    vol_risk_premium,
)
from floorguard.core.forecast._jumps import (
    AnomalyResult,
    DispersionFlags,
    TailFit,
    anomaly_features,
    detect_anomalies,
    dispersion_flags,
    fit_tail,
)
from floorguard.core.forecast._regimes import (
    CorrelationRegime,
    RegimeFit,
    correlation_regime,
    fit_vol_regimes,
    rolling_mean_correlation,
)
from floorguard.core.forecast._signals import (
    CreditSignal,
    Headline,
    HeadlineScore,
    Lexicon,
    SymbolSentiment,
    credit_spread_signal,
    load_lm_lexicon,
    parse_headlines_csv,
    score_headlines,
    sentiment_by_symbol,
)

__all__ = [
    "EVENT_TYPES",
    "AnomalyResult",
    "CorrelationRegime",
    "CreditSignal",
    "DispersionFlags",
    "Event",
    "EventMove",
    "GarchFit",
    "Headline",
    "HeadlineScore",
    "Lexicon",
    "RegimeFit",
    "SymbolSentiment",
    "TailFit",
    "VolForecast",
    "VolRiskPremium",
    "anomaly_features",
    "classify_event",
    "correlation_regime",
    "credit_spread_signal",
    "detect_anomalies",
    "dispersion_flags",
    "expected_event_moves",
    "fit_garch",
    "fit_tail",
    "fit_vol_regimes",
    "fomc_events",
    "forecast_vol",
    "garch_filter",
    "implied_vol_from_vix",
    "load_lm_lexicon",
    "parse_events_csv",
    "parse_headlines_csv",
    "parse_ics",
    "rolling_mean_correlation",
    "score_headlines",
    "sentiment_by_symbol",
    "vol_risk_premium",
]
