// The xgboost backend as a module loaded on demand (see ../plugin.h).
#include "../plugin.h"
#include "xgb_backend.h"

NS_BACKEND_PLUGIN(nightshift::CreateXgbBackend)
