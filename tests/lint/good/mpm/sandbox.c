#include "sandbox.h"
#include "conn.h"
#include "log.h"
