#include "supervisor.h"
#include "util.h"
#include "../../good/shared/log.h"
