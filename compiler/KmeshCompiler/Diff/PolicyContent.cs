using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Diff;

/// <summary>Equality of what a policy says, ignoring where it was written: the same comparison as
/// <see cref="IrEquality"/> for policies, written out by hand because a diff compares every policy
/// of two large worlds and reflection would dominate its cost.</summary>
public static class PolicyContent
{
    public static bool Equal(Policy a, Policy b)
    {
        if (a.Name != b.Name || a.Namespace != b.Namespace || a.Scope != b.Scope || a.Action != b.Action ||
            a.DryRun != b.DryRun || a.Rules.Length != b.Rules.Length) return false;
        for (int r = 0; r < a.Rules.Length; r++)
        {
            var ra = a.Rules[r].Clauses;
            var rb = b.Rules[r].Clauses;
            if (ra.Length != rb.Length) return false;
            for (int c = 0; c < ra.Length; c++)
            {
                var ma = ra[c].Matches;
                var mb = rb[c].Matches;
                if (ma.Length != mb.Length) return false;
                for (int m = 0; m < ma.Length; m++)
                    if (!Equal(ma[m], mb[m])) return false;
            }
        }
        return true;
    }

    public static bool Equal(Match a, Match b) =>
        Same(a.Namespaces, b.Namespaces) && Same(a.NotNamespaces, b.NotNamespaces) &&
        Same(a.Principals, b.Principals) && Same(a.NotPrincipals, b.NotPrincipals) &&
        Same(a.SourceIps, b.SourceIps) && Same(a.NotSourceIps, b.NotSourceIps) &&
        Same(a.DestinationIps, b.DestinationIps) && Same(a.NotDestinationIps, b.NotDestinationIps) &&
        Same(a.DestinationPorts, b.DestinationPorts) && Same(a.NotDestinationPorts, b.NotDestinationPorts) &&
        Same(a.ServiceAccounts, b.ServiceAccounts) && Same(a.NotServiceAccounts, b.NotServiceAccounts);

    /// <summary>True when some match of the policy tests the source identity (namespaces, principals
    /// or service accounts, positive or negative).</summary>
    public static bool UsesIdentity(Policy p)
    {
        foreach (var r in p.Rules)
            foreach (var c in r.Clauses)
                foreach (var m in c.Matches)
                    if (!m.Namespaces.IsEmpty || !m.NotNamespaces.IsEmpty || !m.Principals.IsEmpty ||
                        !m.NotPrincipals.IsEmpty || !m.ServiceAccounts.IsEmpty || !m.NotServiceAccounts.IsEmpty)
                        return true;
        return false;
    }

    private static bool Same<T>(ImmutableArray<T> a, ImmutableArray<T> b) where T : IEquatable<T> => a.AsSpan().SequenceEqual(b.AsSpan());
}
