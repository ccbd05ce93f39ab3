#include "sandbox.h"
#include "util.h"
#include "supervisor/supervisor.h"
#include "nowhere.h"
