"""Rasa's RegexFeaturizer, matching its patterns on the text as the mixed-script tokenizer
reads it: full-width ids (ＳＯ－１４４４１８) match the order-number pattern as SO-144418 does.

    - name: bot.components.folded_regex.FoldedRegexFeaturizer
      case_sensitive: false
      use_word_boundaries: true
"""

from __future__ import annotations

import scipy.sparse
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.regex_featurizer import RegexFeaturizer
from rasa.shared.nlu.training_data.message import Message

from bot.components.mixed_tokenizer import width_folded


@DefaultV1Recipe.register(DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER, is_trainable=True)
class FoldedRegexFeaturizer(RegexFeaturizer):
    """RegexFeaturizer over `width_folded` text (same length: the tokens' offsets hold)."""

    def _features_for_patterns(
        self, message: Message, attribute: str
    ) -> tuple[scipy.sparse.coo_matrix | None, scipy.sparse.coo_matrix | None]:
        text = message.get(attribute)
        if not isinstance(text, str) or not text:
            return super()._features_for_patterns(message, attribute)
        folded = Message(
            data={
                attribute: width_folded(text),
                TOKENS_NAMES[attribute]: message.get(TOKENS_NAMES[attribute], []),
            }
        )
        return super()._features_for_patterns(folded, attribute)
