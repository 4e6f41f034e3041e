using KmeshCompiler.Ir;

namespace KmeshCompiler.Semantics;

/// <summary>One inbound connection: source and destination address, the destination workload's
/// target port (never a Service port), and the source identity if known (null: plaintext).</summary>
public sealed record Connection(IpAddr Source, IpAddr Destination, ushort Port, Identity? SourceIdentity)
{
    public override string ToString() =>
        $"{Source} -> {Destination}:{Port}" + (SourceIdentity is null ? " (no identity)" : $" as {SourceIdentity}");
}

public enum Decision { Allow = 0, Deny = 1 }

/// <summary>Reasons, exactly as cli.md names them.</summary>
public static class Reasons
{
    public const string ExplicitlyDenied = "explicitly denied";
    public const string AllowedByPolicy = "allowed by policy";
    public const string NoAllowPolicies = "no allow policies";
    public const string NoneAllowed = "allow policies exist, but none allowed";
    public const string WorkloadNotFound = "workload not found";
    public const string NotEnforced = "destination not enforced by the mesh";
}
