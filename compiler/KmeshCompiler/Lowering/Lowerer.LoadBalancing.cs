using KmeshCompiler.Semantics;
using System.Collections.Immutable;
using KmeshCompiler.Ir;

namespace KmeshCompiler.Lowering;

public sealed partial class Lowerer
{
    /// <summary>The service's ports, the first of each port number, by port number.</summary>
    internal static List<ServicePort> PortsInOrder(ImmutableArray<ServicePort> ports)
    {
        var result = new List<ServicePort>(ports.Length);
        foreach (var p in ports)
        {
            bool seen = false;
            foreach (var q in result) if (q.Port == p.Port) { seen = true; break; }
            if (seen) continue;
            int at = result.Count;
            while (at > 0 && result[at - 1].Port > p.Port) at--;
            result.Insert(at, p);
        }
        return result;
    }

    /// <summary>Priority R − rank of an endpoint seen from the client node (semantics.md §4).</summary>
    public static int Priority(ImmutableArray<LbScope> scopes, Node client, Workload w)
    {
        int max = scopes.Length > 0 && scopes[0] == LbScope.Network ? 2 * scopes.Length - 1 : scopes.Length;
        return max - LoadBalancer.Rank(scopes, client, w).Rank;
    }
}
