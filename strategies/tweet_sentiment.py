"""Tweet sentiment on five US large caps: a fine-tuned MiniLM + LoRA scores every tweet.

The flagship demo, offline on bundled data: StockNet daily prices and 10,266 tweets about
AMZN, GOOG, JPM and MSFT (2015-01 to 2016-03, MIT), scored by the bundled tweet-sentiment
LoRA adapter (trained by `fintrade train` on Twitter Financial News, MIT; see
plugins/fintrade_sentiment/adapters/). Each tweet counts from five minutes after it was
posted, for the first bar whose 16:00 New York close comes after that; a bar's score is the
confidence-weighted mean of its tweets, decayed with a half-life when a bar has none.

Long/short/flat after costs, half-life chosen on train by Sharpe (and again in each
walk-forward fold), judged out of sample and per market regime, side by side with the same
strategy on a Loughran-McDonald lexicon, a momentum rule and buy-and-hold.

    fintrade backtest strategies/tweet_sentiment.py --report out/tweet_sentiment.html

Scores are cached per tweet (~/.cache/fintrade/scores): the first run scores every distinct
tweet once; later runs and parameter sweeps read the cache.
"""

from fintrade import Costs, Regimes, Splits, Strategy, WalkForward, signal

# Tweets count from five minutes after posting: time for a reader (or a feed) to act on them.
AVAILABILITY_LAG = "5min"


class TweetSentiment(Strategy):
    # AAPL (half of all tweets) is left out and the window starts in 2015 so that a cold run,
    # scoring every distinct tweet once, stays within about two minutes on 2 CPU cores.
    symbols = ["AMZN", "GOOG", "JPM", "MSFT"]
    source = "sample"
    text_source = "sample-tweets"
    start = "2015-01-01"
    end = "2016-03-31"

    # bfloat16: about 3x faster scoring than float32 on CPUs with AVX512-BF16 or AMX, and 99.6% of
    # tweets keep their class. On an older CPU "int8" is as fast but moves scores more (docs/signals.md).
    signals = [signal("llm-sentiment", precision="bfloat16", lag=AVAILABILITY_LAG, half_life="2D", no_news="carry")]
    direction = "long_short"
    # Trade only a clear tilt of the day's tweets; in between, stay flat.
    threshold = 0.15
    min_confidence = 0.3

    # Retail US-equity costs: 5 bps commission, 2 bps slippage, 2 bps quoted spread.
    costs = Costs(fees=0.0005, slippage=0.0002, spread=0.0002)
    splits = Splits(train=0.6, validation=0.2, test=0.2)
    walk_forward = WalkForward(folds=4, mode="anchored")
    regimes = Regimes(window=63, threshold=0.05)

    grid = {"llm-sentiment.half_life": ["12h", "2D", "5D"]}
    objective = "sharpe"

    baselines = {
        "lexicon": [signal("lexicon", lag=AVAILABILITY_LAG, half_life="2D", no_news="carry")],
        "momentum": [signal("momentum", lookback=20)],
    }
