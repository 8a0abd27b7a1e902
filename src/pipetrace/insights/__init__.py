"""What a run taught: the quiz drawn from it and its key insights, both computed from the Trace."""

from pipetrace.insights.key_insights import key_insights
from pipetrace.insights.quiz import build_quiz, quiz_pool

__all__ = ["build_quiz", "key_insights", "quiz_pool"]
