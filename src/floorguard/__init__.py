"""floorguard: equity portfolio risk analytics and portfolio insurance.

The public API is exactly ``floorguard.__all__``. Names are resolved lazily on
first access so that ``import floorguard`` stays cheap and builds nothing
(no settings, no database engine, no data loading).
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # settings and errors
    "Settings": "floorguard.config",
    "get_settings": "floorguard.config",
    "FloorguardError": "floorguard.exceptions",
    "ValidationError": "floorguard.exceptions",
    "NotFoundError": "floorguard.exceptions",
    "DataError": "floorguard.exceptions",
    "PricingError": "floorguard.exceptions",
    "QuoteRefusedError": "floorguard.exceptions",
    "BrokerError": "floorguard.exceptions",
    # foundation: market data, portfolios, application context (issue 2)
    "MarketDataSource": "floorguard.marketdata",
    "BundledSource": "floorguard.marketdata",
    "CsvSource": "floorguard.marketdata",
    "ProviderChain": "floorguard.marketdata",
    "DataQualityReport": "floorguard.marketdata",
    "Position": "floorguard.domain.portfolio",
    "Portfolio": "floorguard.domain.portfolio",
    "parse_portfolio_file": "floorguard.domain.portfolio",
    "AppContext": "floorguard.services.context",
    # pricing (issue 3)
    "bsm_price": "floorguard.core.pricing",
    "bsm_greeks": "floorguard.core.pricing",
    "black76_price": "floorguard.core.pricing",
    "black76_greeks": "floorguard.core.pricing",
    "american_price": "floorguard.core.pricing",
    "implied_vol": "floorguard.core.pricing",
    "implied_vol_details": "floorguard.core.pricing",
    "american_greeks": "floorguard.core.pricing",
    "put_call_parity_residual": "floorguard.core.pricing",
    "fit_surface": "floorguard.core.pricing",
    "VolSurface": "floorguard.core.pricing",
    "ModelSurface": "floorguard.core.pricing",
    # option chains and contract specifications (issue 3)
    "OptionChain": "floorguard.domain.chains",
    "implied_forward_and_dividend": "floorguard.domain.chains",
    "synthetic_chain": "floorguard.domain.chains",
    "fit_chain_surface": "floorguard.domain.chains",
    "ContractSpec": "floorguard.domain.contracts",
    "get_contract_spec": "floorguard.domain.contracts",
    "load_contract_specs": "floorguard.domain.contracts",
    "listed_expiries": "floorguard.domain.contracts",
    "read_cboe_csv": "floorguard.marketdata.cboe",
    # risk (issue 4)
    "annual_volatility": "floorguard.core.risk",
    "max_drawdown": "floorguard.core.risk",
    "value_at_risk": "floorguard.core.risk",
    "expected_shortfall": "floorguard.core.risk",
    "market_beta": "floorguard.core.risk",
    "simple_returns": "floorguard.core.risk",
    "log_returns": "floorguard.core.risk",
    "drawdown_details": "floorguard.core.risk",
    "sharpe_ratio": "floorguard.core.risk",
    "sortino_ratio": "floorguard.core.risk",
    "downside_deviation": "floorguard.core.risk",
    "factor_regression": "floorguard.core.risk",
    "hybrid_beta": "floorguard.core.risk",
    "concentration": "floorguard.core.risk",
    "sector_exposure": "floorguard.core.risk",
    "batch_risk_report": "floorguard.core.risk",
    "historical_stress": "floorguard.core.risk",
    "market_shock_stress": "floorguard.core.risk",
    # portfolio insurance engine (issue 5)
    "PolicyDraft": "floorguard.domain.policy",
    "HedgeLeg": "floorguard.domain.policy",
    "floor_to_index_level": "floorguard.domain.hedging",
    "size_contracts": "floorguard.domain.hedging",
    "build_strategy": "floorguard.domain.strategies",
    "settle": "floorguard.domain.settlement",
    "SettlementTerms": "floorguard.domain.settlement",
    "multi_index_hedge": "floorguard.domain.multi_index",
    "QuoteRequest": "floorguard.services.insurance",
    "quote_policy": "floorguard.services.insurance",
    # the service: API, brokers, batch executors (issue 6)
    "create_app": "floorguard.api.app",
    "Broker": "floorguard.brokers",
    "PaperBroker": "floorguard.brokers",
    "UpstoxBroker": "floorguard.brokers",
    "get_executor": "floorguard.jobs",
    # uncertainty engine: forecasts, Monte Carlo scenarios, backtest (issue 7)
    "fit_garch": "floorguard.core.forecast",
    "forecast_vol": "floorguard.core.forecast",
    "vol_risk_premium": "floorguard.core.forecast",
    "fit_vol_regimes": "floorguard.core.forecast",
    "correlation_regime": "floorguard.core.forecast",
    "detect_anomalies": "floorguard.core.forecast",
    "fit_tail": "floorguard.core.forecast",
    "fomc_events": "floorguard.core.forecast",
    "expected_event_moves": "floorguard.core.forecast",
    "credit_spread_signal": "floorguard.core.forecast",
    "run_scenario": "floorguard.core.montecarlo",
    "custom_shock": "floorguard.core.montecarlo",
    "tail_comparison": "floorguard.core.montecarlo",
    "run_backtest": "floorguard.core.backtest",
    # uncertainty engine: risk windows, ranked hedges, narrative (issue 7)
    "build_risk_windows": "floorguard.domain.opportunities",
    "candidate_expiries": "floorguard.domain.opportunities",
    "score_hedge": "floorguard.domain.opportunities",
    "window_narrative": "floorguard.narrative",
    "scenario_narrative": "floorguard.narrative",
    "narrate": "floorguard.narrative",
    "NumberGuard": "floorguard.narrative",
}

__all__ = sorted([*_EXPORTS, "__version__"], key=str.casefold)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'floorguard' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return list(__all__)
