// The torchscript backend as a module loaded on demand (see ../plugin.h).
#include "../plugin.h"
#include "torch_backend.h"

NS_BACKEND_PLUGIN(nightshift::CreateTorchBackend)
