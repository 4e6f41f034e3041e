namespace KmeshCompiler.Diagnostics;

// KM5xxx: xDS snapshots (xds.md). Binary locations name the message and its byte offset; JSON
// syntax errors carry line and column; everything about one resource names that resource.
public static partial class Codes
{
    public static readonly DiagnosticDescriptor XdsBadFrame = new("KM5001", Severity.Error, "the snapshot is not a length-delimited stream of xDS responses: {0}; write each DeltaDiscoveryResponse or DiscoveryResponse as a varint length followed by the message (protobuf's writeDelimitedTo)");
    public static readonly DiagnosticDescriptor XdsBadResponse = new("KM5002", Severity.Error, "this xDS response does not parse: {0}; the rest of the snapshot is not read");
    public static readonly DiagnosticDescriptor XdsBadJson = new("KM5003", Severity.Error, "the snapshot is not valid JSON: {0}");
    public static readonly DiagnosticDescriptor XdsBadJsonShape = new("KM5004", Severity.Error, "{0}; a JSON snapshot is one DeltaDiscoveryResponse or DiscoveryResponse object, or an array of them");
    public static readonly DiagnosticDescriptor XdsUnknownType = new("KM5005", Severity.Warning, "resource of type '{0}' skipped: only {1} are read; nothing to do if the snapshot holds other xDS types on purpose");
    public static readonly DiagnosticDescriptor XdsUndecodable = new("KM5006", Severity.Error, "resource of type '{0}' cannot be decoded ({1}); it is left out of the world: regenerate the snapshot, or fix this resource");
    public static readonly DiagnosticDescriptor XdsUnknownEnum = new("KM5007", Severity.Error, "{0} has the unknown value {1} (known: {2}); the resource is rejected, as ztunnel rejects it, and left out of the world");
    public static readonly DiagnosticDescriptor XdsEmptyStringMatch = new("KM5008", Severity.Warning, "a StringMatch in {0} has no exact/prefix/suffix/presence variant; dropped, as ztunnel drops it");
    public static readonly DiagnosticDescriptor XdsBadMatchAddress = new("KM5009", Severity.Warning, "an Address in {0} has {1}; dropped, as ztunnel drops it");
    public static readonly DiagnosticDescriptor XdsBadWorkloadAddress = new("KM5010", Severity.Error, "{0} has an address of {1} bytes (an address has 4 or 16); the resource is rejected, as ztunnel rejects it, and left out of the world");
    public static readonly DiagnosticDescriptor XdsUnspecifiedScope = new("KM5011", Severity.Error, "the service's load_balancing.routing_preference contains UNSPECIFIED_SCOPE, which makes the service invalid; it is left out of the world");
    public static readonly DiagnosticDescriptor XdsMissingName = new("KM5012", Severity.Error, "{0}; the resource is left out of the world");
    public static readonly DiagnosticDescriptor XdsJsonNaming = new("KM5013", Severity.Info, "Authorization JSON uses {0}");
    public static readonly DiagnosticDescriptor XdsRemovedUnknown = new("KM5014", Severity.Info, "removed_resources names '{0}', which no earlier response defined; nothing removed");
    public static readonly DiagnosticDescriptor XdsNodeLocalityConflict = new("KM5015", Severity.Warning, "workloads on node '{0}' disagree on its locality ({1} and {2}); the node keeps {1}");
    public static readonly DiagnosticDescriptor XdsUnknownEnumDefaulted = new("KM5016", Severity.Warning, "{0} has the unknown value {1}; read as {2}, as ztunnel reads it");
}
