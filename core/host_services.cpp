// What the module host hands on to modules (see host_services.h).
#include "host_services.h"

#include "cluster/cluster.h"

namespace sb {

cluster::Cluster* HostServices::joined_cluster() const { return cluster && !cluster->left() ? cluster : nullptr; }

}  // namespace sb
