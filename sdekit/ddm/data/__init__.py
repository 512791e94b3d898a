"""Read and validate behavioural data (one row per trial) into one canonical DataFrame.

The canonical layout follows HDDM: ``rt`` in seconds (float), ``response`` 1 = upper boundary and
0 = lower (int), ``subj_idx`` for subjects, and every other column kept as it is (conditions).
What was assumed on the way (units, response coding, a missing subject column ...) is recorded in
``df.attrs["sdekit"]``, a plain JSON-serialisable dict, so it survives pandas operations and
Parquet files; :func:`describe` prints it.

Every problem raises one :class:`DataError` naming the file, the rows (1-based line numbers of the
CSV, the header being line 1) and the column, with a way to fix it. Nothing here writes files.
"""

# Constants and Problem are importable from here, as before, without being in __all__.
from ._canonical import CANONICAL as CANONICAL
from ._columns import RECOGNISED_SUBJECT_COLUMNS as RECOGNISED_SUBJECT_COLUMNS
from ._outliers import FAST_RT_FLOOR as FAST_RT_FLOOR
from ._outliers import describe_rows, exclude_fast, fast_outliers
from ._problems import DataError, DataWarning, OptionNames
from ._problems import Problem as Problem
from ._readers import DEFAULT_MIN_TRIALS as DEFAULT_MIN_TRIALS
from ._readers import DEFAULT_MISSING_CODES as DEFAULT_MISSING_CODES
from ._readers import from_dataframe, read_csv
from ._record import check_rts_against_t0, describe

__all__ = [
    "DataError",
    "DataWarning",
    "OptionNames",
    "read_csv",
    "from_dataframe",
    "check_rts_against_t0",
    "describe",
    "fast_outliers",
    "exclude_fast",
    "describe_rows",
]
