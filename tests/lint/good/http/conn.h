#pragma once
#include "log.h"
