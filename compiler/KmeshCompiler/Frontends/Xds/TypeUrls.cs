namespace KmeshCompiler.Frontends.Xds;

/// <summary>The type URLs of the resources this front end reads (xds.md, "Type URLs").</summary>
public static class TypeUrls
{
    public const string Address = "type.googleapis.com/istio.workload.Address";
    public const string Workload = "type.googleapis.com/istio.workload.Workload";
    public const string Authorization = "type.googleapis.com/istio.security.Authorization";

    public const string Known = "istio.workload.Address, istio.workload.Workload and istio.security.Authorization";

    /// <summary>The message name of a type URL: what follows its last '/'.</summary>
    public static string MessageName(string typeUrl)
    {
        int slash = typeUrl.LastIndexOf('/');
        return slash < 0 ? typeUrl : typeUrl[(slash + 1)..];
    }

    public static ResourceType Classify(string typeUrl) => MessageName(typeUrl) switch
    {
        "istio.workload.Address" => ResourceType.Address,
        "istio.workload.Workload" => ResourceType.Workload,
        "istio.security.Authorization" => ResourceType.Authorization,
        _ => ResourceType.Unknown,
    };
}

public enum ResourceType { Unknown, Address, Workload, Authorization }
