using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Frontends.Kubernetes;

/// <summary>What the front end keeps of each object after reading its document: only the fields the
/// translation needs, with the locations later diagnostics point at. The YAML tree itself is dropped
/// document by document, so memory stays proportional to the world, not to the text.</summary>
internal sealed record Labels(ImmutableArray<KeyValuePair<string, string>> Pairs)
{
    public static readonly Labels Empty = new([]);

    public string? Get(string key)
    {
        foreach (var p in Pairs) if (p.Key == key) return p.Value;
        return null;
    }

    public bool ContainsAll(Labels selector)
    {
        foreach (var p in selector.Pairs) if (Get(p.Key) != p.Value) return false;
        return true;
    }
}

internal sealed record NamespaceModel(string Name, Labels Labels, Labels Annotations, SourceLocation Location);

internal sealed record NodeModel(string Name, Locality Locality, string Network, SourceLocation Location);

internal sealed record ContainerPort(string Name, uint Port);

internal sealed record PodModel(
    string Name,
    string Namespace,
    string ServiceAccount,
    ImmutableArray<IpAddr> Addresses,
    string NodeName,
    Labels Labels,
    bool Ready,
    ImmutableArray<ContainerPort> Ports,
    SourceLocation Location,
    SourceLocation NodeNameLocation,
    string Kind = Workload.PodKind,
    bool HostNetwork = false)
{
    /// <summary>Unique among pods and templates: a Deployment and a Pod may share a name.</summary>
    public string UniqueKey => Kind == Workload.PodKind ? $"{Namespace}/{Name}" : $"{Kind} {Namespace}/{Name}";

    /// <summary>How messages name it: "ns/name" for a Pod, "Deployment ns/name" for a template.</summary>
    public string Display => Kind == Workload.PodKind ? $"{Namespace}/{Name}" : $"{Kind} {Namespace}/{Name}";
}

internal sealed record ServicePortModel(string Name, uint Port, uint TargetNumber, string? TargetName, AppProtocol AppProtocol, SourceLocation Location);

internal sealed record ServiceModel(
    string Name,
    string Namespace,
    Labels? Selector,
    ImmutableArray<IpAddr> ClusterIps,
    ImmutableArray<ServicePortModel> Ports,
    string? TrafficDistribution,
    bool InternalTrafficLocal,
    string? DistributionAnnotation,
    SourceLocation AnnotationLocation,
    bool PublishNotReadyAddresses,
    SourceLocation Location)
{
    public string Hostname(string domain = "cluster.local") => $"{Name}.{Namespace}.svc.{domain}";
}

/// <summary>A port written in a policy (to.ports, notPorts or a destination.port condition).</summary>
internal sealed record PortMention(uint Port, SourceLocation Location);

/// <summary>A namespace written in a source (namespaces, notNamespaces, serviceAccounts, source.namespace).</summary>
internal sealed record NamespaceMention(StringMatch Match, string Written, SourceLocation Location);

internal sealed record PolicyModel(
    Policy Policy,
    Labels? MatchLabels,
    SourceLocation TargetLocation,
    ImmutableArray<PortMention> Ports,
    ImmutableArray<NamespaceMention> SourceNamespaces);
