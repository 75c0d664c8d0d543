// Joins the hub and the module host to the cluster: emits made here go out
// to the other nodes, emits made there are delivered to this node's
// sockets, the rooms and users this node has decide which channels it
// listens to, and modules hear about nodes and their peers' messages.
//
// Kept apart from Cluster, and out of core/cluster/, so that the cluster
// machinery (Redis, leases, channels) knows nothing of sockets, frames or
// modules: this file sits above the hub and the module host, cluster/ below.
#pragma once

#include "cluster/cluster.h"
#include "host_services.h"
#include "hub.h"

#include <memory>
#include <string>

namespace sb {
class ModuleHost;
}

namespace sb::cluster {

class ClusterLink : public HubLink {
public:
    ClusterLink(uv_loop_t* loop, const ClusterConfig& config, Hub& hub, ModuleHost& modules, SocketDisconnector& sockets);
    ~ClusterLink() override;

    void start();
    void stop();  // leaves the cluster; the hub stops publishing through us
    Cluster& cluster() { return *cluster_; }
    const Cluster& cluster() const { return *cluster_; }
    void render_metrics(std::string& out) const;

    void broadcast(const BroadcastTarget& target, const std::vector<FrameRef>& frames) override;
    void room_changed(const Namespace& ns, std::string_view room, bool opened) override;
    void user_changed(std::string_view user, bool arrived) override;

private:
    Hub& hub_;
    ModuleHost& modules_;
    SocketDisconnector& sockets_;
    std::unique_ptr<Cluster> cluster_;
    bool linked_ = false;

    void deliver(const Delivery& d);
    void disconnect(const DisconnectRequest& r);
};

}  // namespace sb::cluster
