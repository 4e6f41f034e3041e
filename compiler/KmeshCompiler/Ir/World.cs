using System.Collections.Immutable;

namespace KmeshCompiler.Ir;

/// <summary>Everything that decides which policies apply to which addresses. The IR holds what
/// istiod serves to node agents (xDS.md) plus nodes and namespaces, so a YAML world and its snapshot
/// produce the same IR. Selectors are already resolved: a workload lists the WORKLOAD_SELECTOR
/// policies attached to it, exactly as <c>Workload.authorization_policies</c> does on the wire.</summary>
public sealed record World(
    ImmutableArray<Namespace> Namespaces,
    ImmutableArray<Node> Nodes,
    ImmutableArray<Workload> Workloads,
    ImmutableArray<Service> Services,
    ImmutableArray<Policy> Policies)
{
    public static readonly World Empty = new([], [], [], [], []);

    /// <summary>Sorts every collection into canonical order (namespaces, nodes by name; workloads by
    /// uid; services by namespace/hostname; policies by namespace/name) so outputs never depend on
    /// input order.</summary>
    public World Canonical() => new(
        Namespaces.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name)),
        Nodes.Sort((a, b) => string.CompareOrdinal(a.Name, b.Name)),
        Workloads.Sort((a, b) => string.CompareOrdinal(a.Uid, b.Uid)),
        Services.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key)),
        Policies.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key)));
}

public sealed record Namespace(string Name, SourceLocation Location);

public sealed record Locality(string Region, string Zone, string Subzone)
{
    public static readonly Locality Empty = new("", "", "");
    public override string ToString() => $"{Region}/{Zone}/{Subzone}";
}

/// <summary>A Kubernetes node: the client side of load balancing.</summary>
public sealed record Node(string Name, Locality Locality, string Network, SourceLocation Location);

public enum WorkloadHealth { Healthy = 0, Unhealthy = 1 }

/// <summary>The ports a workload serves for one service, keyed like xDS by "namespace/hostname".</summary>
public sealed record WorkloadServicePorts(string ServiceKey, ImmutableArray<ServicePort> Ports);

public sealed record Workload(
    string Uid,
    string Name,
    string Namespace,
    string ServiceAccount,
    string TrustDomain,
    ImmutableArray<IpAddr> Addresses,
    string Node,
    string Network,
    string ClusterId,
    Locality Locality,
    WorkloadHealth Health,
    uint Capacity,
    ImmutableArray<WorkloadServicePorts> Services,
    ImmutableArray<string> AuthorizationPolicies,
    SourceLocation Location,
    NetworkMode NetworkMode = NetworkMode.Standard,
    bool Enrolled = true,
    string Kind = Workload.PodKind)
{
    public const string DefaultTrustDomain = "cluster.local";
    public const string PodKind = "Pod";
    public const string DefaultServiceAccount = "default";
    public const string DefaultClusterId = "Kubernetes";

    public string Key => $"{Namespace}/{Name}";

    public Identity Identity => new(TrustDomain, Namespace, ServiceAccount);

    /// <summary>A pod template (Deployment, StatefulSet, ...): labels, namespace, service account and
    /// ports, but no address and no node. Selectors and lints see it; images and the kernel cannot.</summary>
    public bool IsTemplate => Kind != PodKind;

    /// <summary>Whether the mesh captures this workload's traffic (semantics.md §3): a host-network pod
    /// sends from its node's address and is not captured, so its address lends no identity.</summary>
    public bool LendsIdentity => NetworkMode == NetworkMode.Standard;

    /// <summary>Whether policies are enforced on connections to this workload (for a template: to the
    /// pods it creates): enrolled and captured. Every other workload's SYNs pass, and node images
    /// leave it out.</summary>
    public bool Enforced => Enrolled && NetworkMode == NetworkMode.Standard;

    /// <summary>Why <see cref="Enforced"/> is false, for messages; null when it is enforced.</summary>
    public string? NotEnforcedReason =>
        NetworkMode == NetworkMode.HostNetwork ? $"{Key} uses the host network, which the mesh does not capture"
        : !Enrolled ? $"{Key} is not enrolled in the mesh (label istio.io/dataplane-mode)"
        : null;
}

/// <summary>xDS <c>NetworkMode</c>: a host-network pod shares its node's address.</summary>
public enum NetworkMode { Standard = 0, HostNetwork = 1 }

/// <summary>A workload identity without the <c>spiffe://</c> prefix.</summary>
public sealed record Identity(string TrustDomain, string Namespace, string ServiceAccount)
{
    public override string ToString() => $"{TrustDomain}/ns/{Namespace}/sa/{ServiceAccount}";

    /// <summary>Parses "td/ns/NS/sa/SA" (a leading spiffe:// is accepted and removed).</summary>
    public static bool TryParse(string s, out Identity? id)
    {
        id = null;
        if (s.StartsWith("spiffe://", StringComparison.Ordinal)) s = s["spiffe://".Length..];
        var p = s.Split('/');
        if (p.Length != 5 || p[1] != "ns" || p[3] != "sa" || p.Any(x => x.Length == 0)) return false;
        id = new Identity(p[0], p[2], p[4]);
        return true;
    }
}

public enum AppProtocol { Unknown = 0, Http11 = 1, Http2 = 2, Grpc = 3, Tcp = 4, Tls = 5 }

public sealed record ServicePort(uint Port, uint TargetPort, AppProtocol AppProtocol = AppProtocol.Unknown);

public sealed record NetworkAddress(string Network, IpAddr Address);

public enum LbScope { Unspecified = 0, Region = 1, Zone = 2, Subzone = 3, Node = 4, Cluster = 5, Network = 6 }

public enum LbMode { Unspecified = 0, Strict = 1, Failover = 2, Passthrough = 3 }

public enum HealthPolicy { OnlyHealthy = 0, AllowAll = 1 }

public sealed record LoadBalancing(ImmutableArray<LbScope> RoutingPreference, LbMode Mode, HealthPolicy HealthPolicy)
{
    public static readonly LoadBalancing Default = new([], LbMode.Unspecified, HealthPolicy.OnlyHealthy);
}

public sealed record Service(
    string Name,
    string Namespace,
    string Hostname,
    ImmutableArray<NetworkAddress> Addresses,
    ImmutableArray<ServicePort> Ports,
    LoadBalancing LoadBalancing,
    SourceLocation Location)
{
    public string Key => $"{Namespace}/{Hostname}";
}
