namespace KmeshCompiler.Diagnostics;

/// <summary>The diagnostic catalogue. Each stage adds its codes in its own partial file
/// (Codes.Kubernetes.cs, Codes.Xds.cs, ...); docs/diagnostics.md lists them all.</summary>
public static partial class Codes
{
    // KM9xxx: inputs and environment.
    public static readonly DiagnosticDescriptor PathNotFound = new("KM9001", Severity.Error, "'{0}' does not exist or cannot be read");
    public static readonly DiagnosticDescriptor UnknownInputKind = new("KM9002", Severity.Error, "cannot tell what kind of input '{0}' is: use .yaml/.yml/.json for Kubernetes objects, .kpl for the text language, or .pb/.bin/.snapshot for xDS snapshots");
    public static readonly DiagnosticDescriptor InputTooLarge = new("KM9003", Severity.Error, "'{0}' is {1} bytes; inputs are limited to {2} bytes");
    public static readonly DiagnosticDescriptor DuplicateObject = new("KM9004", Severity.Error, "{0} '{1}' is defined twice (first at {2}); remove one of them");
    public static readonly DiagnosticDescriptor NoInputs = new("KM9005", Severity.Error, "no input files found under '{0}'");
    public static readonly DiagnosticDescriptor NotRegularFile = new("KM9020", Severity.Error, "'{0}' is {1}, not a regular file; only regular files and - (standard input) are read");
    public static readonly DiagnosticDescriptor SpecialFileSkipped = new("KM9021", Severity.Warning, "skipped '{0}': it is {1}, not a regular file");
    public static readonly DiagnosticDescriptor CannotList = new("KM9022", Severity.Error, "cannot list the directory '{0}': {1}");
}
