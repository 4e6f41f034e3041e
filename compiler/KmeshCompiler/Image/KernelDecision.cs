using KmeshCompiler.Ir;
using KmeshCompiler.Semantics;

namespace KmeshCompiler.Image;

/// <summary>One policy the XDP program evaluated for a packet, with what its counters say.</summary>
public sealed record KernelPolicyResult(uint Id, string Name, PolicyAction Action, bool DryRun, bool Matched);

/// <summary>What the kernel decided for one SYN, in the reference engine's terms: decision, reason and
/// deciding policy, from the verdict code the programs left (KMESH_VERDICT_*), with every policy of
/// the evaluated list named from the image.</summary>
public sealed record KernelDecision(Decision Decision, string Reason, string? Policy, uint? PolicyId, bool Evaluated,
    IReadOnlyList<KernelPolicyResult> Policies, bool Dropped)
{
    public IEnumerable<KernelPolicyResult> DryRun => Policies.Where(p => p.DryRun);

    /// <summary>The decision for a verdict code (null: the packet was not evaluated; then only whether
    /// it was dropped is known) and the policy results the counters gave.</summary>
    public static KernelDecision From(ImageFile image, ImageTables tables, bool dropped, uint? verdict, uint? policyId,
        IEnumerable<(uint PolicyId, bool Matched)> counted)
    {
        var results = counted.Select(c =>
        {
            var row = ImageTables.At(tables.Policies, c.PolicyId);
            bool dry = row is { } p && (p.Flags & Layout.PolicyDryRun) != 0;
            return new KernelPolicyResult(c.PolicyId, image.Name(NameKind.Policy, c.PolicyId) ?? $"policy#{c.PolicyId}",
                row is { Action: Layout.ActionDeny } ? PolicyAction.Deny : PolicyAction.Allow, dry, c.Matched);
        }).ToList();
        if (verdict is not { } v)
            return new KernelDecision(dropped ? Decision.Deny : Decision.Allow,
                dropped ? "dropped before evaluation (unparsable SYN)" : "not evaluated (not a local workload)", null, null, false, results, dropped);
        var (dec, reason) = v switch
        {
            Layout.VerdictAllowPolicy => (Decision.Allow, Reasons.AllowedByPolicy),
            Layout.VerdictAllowNoAllow => (Decision.Allow, Reasons.NoAllowPolicies),
            Layout.VerdictDenyPolicy => (Decision.Deny, Reasons.ExplicitlyDenied),
            Layout.VerdictDenyNoneAllow => (Decision.Deny, Reasons.NoneAllowed),
            Layout.VerdictUnparsed => (Decision.Deny, "dropped: the packet could not be parsed"),
            _ => (Decision.Deny, "dropped: evaluation failed (missing table row or step budget)"),
        };
        bool named = v is Layout.VerdictAllowPolicy or Layout.VerdictDenyPolicy;
        uint id = policyId ?? uint.MaxValue;
        return new KernelDecision(dec, reason, named ? image.Name(NameKind.Policy, id) ?? $"policy#{id}" : null,
            named ? id : null, true, results, dropped);
    }
}
