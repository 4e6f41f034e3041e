namespace KmeshCompiler.Diagnostics;

public static partial class Codes
{
    // KM70xx: lowering a world into a node's tables.
    public static readonly DiagnosticDescriptor NodeNotInInputs = new("KM7001", Severity.Error, "node '{0}' is not in the inputs (no Node object and no workload on it); known nodes: {1}");
    public static readonly DiagnosticDescriptor TableOverCapacity = new("KM7002", Severity.Error, "table {0} needs {1} entries but holds at most {2} (KMESH_{3} in bpf/kmesh_tables.h): {4}");
    public static readonly DiagnosticDescriptor StageStepsOverBudget = new("KM7003", Severity.Error, "workload '{0}': the {1} stage needs {2} steps for port {3}, over the limit of {4} (KMESH_MAX_STAGE_STEPS): reduce the rules, clauses or matches of the policies that apply to it");
    public static readonly DiagnosticDescriptor TailCallsOverBudget = new("KM7004", Severity.Error, "workload '{0}': evaluation needs {1} tail calls, over the kernel limit of {2}");
    public static readonly DiagnosticDescriptor AddressNotOwned = new("KM7005", Severity.Warning, "address {0} of workload '{1}' on this node belongs to workload '{2}' (first by uid), so the node does not authorize traffic to it; give each workload its own address");
    public static readonly DiagnosticDescriptor ServiceAddressClash = new("KM7006", Severity.Warning, "service address {0} port {1} of '{2}' is already used by '{3}'; connects to it go to '{3}'");
    public static readonly DiagnosticDescriptor WeightCapped = new("KM7007", Severity.Info, "workload '{0}' has capacity {1}; the connect tables honour weights up to {2} (KMESH_MAX_WEIGHT), so it is weighted {2}");
    public static readonly DiagnosticDescriptor PortIndexDropped = new("KM7008", Severity.Info, "workload '{0}': {1} policies over {2} distinct ports would need {3} list entries per port; every port of this workload evaluates all its policies instead");

    public static readonly DiagnosticDescriptor TemplatesOnly = new("KM7010", Severity.Error, "the inputs hold only pod templates ({0}), which have no addresses and no node; a node image needs Pods with status.podIP: add them (for example 'kubectl get pods -A -o yaml'), or use 'kmeshc validate' and 'kmeshc check --engine reference' on the templates");
    public static readonly DiagnosticDescriptor TooManyScopes = new("KM7009", Severity.Error, "service '{0}' ranks endpoints by {1} scopes, which needs {2} priorities; the connect tables have {3} (KMESH_PRIORITIES): list each scope once");

    // KM71xx: reading an image file.
    public static readonly DiagnosticDescriptor ImageTruncated = new("KM7101", Severity.Error, "'{0}' is truncated: {1}; rebuild it with kmeshc compile");
    public static readonly DiagnosticDescriptor ImageBadMagic = new("KM7102", Severity.Error, "'{0}' is not a kmesh image (wrong magic number)");
    public static readonly DiagnosticDescriptor ImageFutureVersion = new("KM7103", Severity.Error, "'{0}' has image format version {1}; this kmeshc reads version {2}: use a newer kmeshc");
    public static readonly DiagnosticDescriptor ImageHashMismatch = new("KM7104", Severity.Error, "'{0}' is corrupt: its content hash does not match the header (header {1}, content {2})");
    public static readonly DiagnosticDescriptor ImageCorrupt = new("KM7105", Severity.Error, "'{0}' is corrupt: {1}");
    public static readonly DiagnosticDescriptor ImageAbiMismatch = new("KM7106", Severity.Error, "'{0}' was built for table layout {1}, but this kmeshc uses {2}: recompile the image with this kmeshc");
}
