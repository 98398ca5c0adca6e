"""Export formats, one module each, every one at an explicit version; ``FORMATS`` by name."""

from __future__ import annotations

from expertloop.datasets.formats.base import ExportFormat, FormatContext
from expertloop.datasets.formats.errors import Errors
from expertloop.datasets.formats.iterations import Iterations
from expertloop.datasets.formats.openai_dpo import OpenAIDPO
from expertloop.datasets.formats.openai_sft import OpenAISFT
from expertloop.datasets.formats.rubrics import Rubrics
from expertloop.datasets.formats.trl_dpo import TRLDPO, TRLDPOConversational
from expertloop.datasets.formats.trl_kto import TRLKTO
from expertloop.datasets.formats.trl_sft import TRLSFT, TRLSFTConversational
from expertloop.datasets.formats.trl_stepwise import TRLStepwise

# In the order a snapshot's files, manifest and card list them.
FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        OpenAISFT(),
        OpenAIDPO(),
        TRLSFT(),
        TRLSFTConversational(),
        TRLDPO(),
        TRLDPOConversational(),
        TRLKTO(),
        TRLStepwise(),
        Rubrics(),
        Errors(),
        Iterations(),
    )
}

__all__ = ["FORMATS", "ExportFormat", "FormatContext"]
