#pragma once
#include "http/conn.h"
