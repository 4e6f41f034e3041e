using KmeshCompiler.Frontends.Xds;

namespace KmeshCompiler.Online;

/// <summary>Who the node agent says it is: the Node of every first request on a stream. istiod parses
/// the id as <c>TYPE~IP~POD.NAMESPACE~NAMESPACE.svc.cluster.local</c> and serves a "ztunnel" proxy the
/// Address and Authorization types; the metadata is what ztunnel sends (NAME, NAMESPACE,
/// INSTANCE_IPS, NODE_NAME) plus <see cref="Metadata"/>.</summary>
public sealed record XdsNodeIdentity(string NodeName, string PodName = "", string PodNamespace = "", string InstanceIp = "")
{
    /// <summary>ztunnel's stand-in when INSTANCE_IP is not set: istiod refuses an id without a valid IP.</summary>
    public const string DefaultIp = "1.1.1.1";

    /// <summary>Extra metadata (ISTIO_VERSION, CLUSTER_ID, ...), added after the four above.</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; init; } = new Dictionary<string, string>();

    public string Id => $"ztunnel~{Ip}~{PodName}.{PodNamespace}~{PodNamespace}.svc.cluster.local";

    private string Ip => InstanceIp.Length > 0 ? InstanceIp : DefaultIp;

    /// <summary>The ordered metadata pairs sent in Node.metadata (string values).</summary>
    public IEnumerable<KeyValuePair<string, string>> MetadataPairs()
    {
        yield return new("NAME", PodName);
        yield return new("NAMESPACE", PodNamespace);
        yield return new("INSTANCE_IPS", Ip);
        yield return new("NODE_NAME", NodeName);
        foreach (var kv in Metadata.OrderBy(k => k.Key, StringComparer.Ordinal)) yield return kv;
    }

    /// <summary>From the variables a DaemonSet sets through the downward API, as ztunnel reads them:
    /// INSTANCE_IP, POD_NAME, POD_NAMESPACE (and NODE_NAME when <paramref name="nodeName"/> is empty).</summary>
    public static XdsNodeIdentity FromEnvironment(string nodeName, Func<string, string?>? env = null)
    {
        env ??= Environment.GetEnvironmentVariable;
        return new XdsNodeIdentity(
            nodeName.Length > 0 ? nodeName : env("NODE_NAME") ?? "",
            env("POD_NAME") ?? "", env("POD_NAMESPACE") ?? "", env("INSTANCE_IP") ?? "");
    }
}

/// <summary>How to reach istiod and how to behave on the stream (docs/xds.md, "The client").</summary>
public sealed record XdsClientOptions
{
    /// <summary><c>http://HOST:PORT</c> for plaintext HTTP/2 (h2c), <c>https://HOST:PORT</c> for TLS
    /// (istiod's 15012). The server's certificate must name HOST.</summary>
    public required Uri Server { get; init; }

    public required XdsNodeIdentity Node { get; init; }

    /// <summary>PEM file of the roots the server's certificate must chain to (istio's ca.crt); without
    /// it, the system's roots. Read once, when the client starts.</summary>
    public string? CaFile { get; init; }

    /// <summary>A file holding a bearer token (a projected service account token), sent as
    /// <c>authorization: Bearer TOKEN</c>; read again for every stream, as such tokens rotate.</summary>
    public string? TokenFile { get; init; }

    /// <summary>Extra request headers for every stream.</summary>
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    /// <summary>The types subscribed to (wildcard), in this order on every new stream.</summary>
    public IReadOnlyList<string> TypeUrls { get; init; } = [Frontends.Xds.TypeUrls.Address, Frontends.Xds.TypeUrls.Authorization];

    /// <summary>Reconnect delays: the first, doubling up to the bound, each drawn in [d/2, d).</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>A stream that delivered a response and stayed open this long was healthy: the next
    /// reconnect starts again from <see cref="InitialBackoff"/>.</summary>
    public TimeSpan HealthyStream { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The largest response accepted (ztunnel allows 200 MiB).</summary>
    public int MaxResponseBytes { get; init; } = 200 << 20;

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Seed of the backoff jitter (tests); null draws one.</summary>
    public int? JitterSeed { get; init; }

    /// <summary>The name diagnostics of decoded resources carry as their file.</summary>
    public string SourceName => $"xds:{Server.Authority}";
}
