"""Commands as data (`base.Command`), one module per area; the one handler
is `Workspace.execute`. Release commands live in `release/commands.py`."""

from workspace.commands.base import Command, Context, Executed, PacketCall
from workspace.commands.objections import (
    AnswerObjection,
    RaiseObjection,
    ReopenObjection,
    ResolveObjection,
    WithdrawObjection,
)
from workspace.commands.packets import ChangeMembers
from workspace.commands.plans import SetRecoveryPlan
from workspace.commands.prerequisites import DeclarePrerequisite, SatisfyPrerequisite
from workspace.commands.revisions import CutRevision
from workspace.commands.sections import (
    AddSection,
    MoveSection,
    RejectSuggestion,
    RemoveSection,
    ResolveConflict,
    RetitleSection,
)
from workspace.commands.sources import CiteSource, RefreshSource, WithdrawSource
from workspace.commands.worksheets import (
    AddInterpretation,
    CreateWorksheet,
    SetWorksheetFacts,
)

__all__ = [
    "AddInterpretation",
    "AddSection",
    "AnswerObjection",
    "ChangeMembers",
    "CiteSource",
    "Command",
    "Context",
    "CreateWorksheet",
    "CutRevision",
    "DeclarePrerequisite",
    "Executed",
    "MoveSection",
    "PacketCall",
    "RaiseObjection",
    "RefreshSource",
    "RejectSuggestion",
    "RemoveSection",
    "ReopenObjection",
    "ResolveConflict",
    "ResolveObjection",
    "RetitleSection",
    "SatisfyPrerequisite",
    "SetRecoveryPlan",
    "SetWorksheetFacts",
    "WithdrawObjection",
    "WithdrawSource",
]
