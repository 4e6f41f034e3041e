using System.Text;

namespace KmeshCompiler.Benchmarks;

/// <summary>The seeded cluster-shaped Kubernetes world the lowering, xDS and check benchmarks read
/// (one generator, so their figures describe the same kind of cluster).</summary>
public static class ClusterYaml
{
    /// <summary>A cluster-shaped Kubernetes world: 200 namespaces, <paramref name="nNodes"/> nodes in 3
    /// regions, services of about ten pods each, a tenth of the policies namespace-wide, a few mesh-wide,
    /// the rest selecting one service's pods; rules mix principals, namespace prefixes, service accounts,
    /// IP blocks and ports.</summary>
    public static string Write(Random rng, int nPods, int nServices, int nPolicies, int nNodes)
    {
        var sb = new StringBuilder(nPods * 700);
        string Ns(int i) => $"ns-{i % 200}";
        sb.Append("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: istio-system\n");
        for (int i = 0; i < 200; i++)
            sb.Append("---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: ").Append(Ns(i)).Append('\n');
        for (int i = 0; i < nNodes; i++)
        {
            sb.Append("---\napiVersion: v1\nkind: Node\nmetadata:\n  name: node-").Append(i).Append("\n  labels:\n")
              .Append("    topology.kubernetes.io/region: region-").Append(i % 3).Append('\n')
              .Append("    topology.kubernetes.io/zone: zone-").Append(i % 9).Append('\n');
            if (i % 4 == 0) sb.Append("    topology.istio.io/subzone: sub-").Append(i % 7).Append('\n');
        }
        for (int i = 0; i < nServices; i++)
        {
            sb.Append("---\napiVersion: v1\nkind: Service\nmetadata:\n  name: svc-").Append(i).Append("\n  namespace: ").Append(Ns(i))
              .Append("\nspec:\n  selector:\n    app: svc-").Append(i)
              .Append("\n  clusterIP: 10.96.").Append(i / 256).Append('.').Append(i % 256);
            if (i % 3 == 0) sb.Append("\n  trafficDistribution: PreferClose");
            sb.Append("\n  ports:\n    - name: http\n      port: 80\n      targetPort: 8080\n    - name: https\n      port: 443\n      targetPort: 8443\n");
        }
        for (int i = 0; i < nPods; i++)
        {
            int svc = i % nServices;
            sb.Append("---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-").Append(i).Append("\n  namespace: ").Append(Ns(svc))
              .Append("\n  labels:\n    app: svc-").Append(svc)
              .Append("\nspec:\n  serviceAccountName: sa-").Append(i % 50).Append("\n  nodeName: node-").Append(rng.Next(nNodes))
              .Append("\n  containers:\n    - name: app\n      ports:\n        - containerPort: 8080\nstatus:\n  podIP: 10.")
              .Append(i >> 16).Append('.').Append((i >> 8) & 255).Append('.').Append(i & 255)
              .Append("\n  conditions:\n    - type: Ready\n      status: \"").Append(i % 20 == 0 ? "False" : "True").Append("\"\n");
        }
        for (int i = 0; i < nPolicies; i++)
        {
            bool global = i % 1000 == 999;
            sb.Append("---\napiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata:\n  name: pol-").Append(i)
              .Append("\n  namespace: ").Append(global ? "istio-system" : Ns(i)).Append("\nspec:\n");
            if (!global && i % 10 != 0) sb.Append("  selector:\n    matchLabels:\n      app: svc-").Append((rng.Next(Math.Max(1, nServices / 200)) * 200 + i % 200) % nServices).Append('\n');
            sb.Append("  action: ").Append(i % 4 == 0 ? "DENY" : "ALLOW").Append("\n  rules:\n");
            for (int r = 1 + rng.Next(3); r > 0; r--)
            {
                sb.Append("    - from:\n        - source:\n            principals: [\"cluster.local/ns/").Append(Ns(rng.Next(200))).Append("/sa/sa-").Append(rng.Next(50)).Append("\"]\n")
                  .Append("        - source:\n            namespaces: [\"ns-1*\"]\n            notIpBlocks: [\"").Append(rng.Next(1, 224)).Append('.').Append(rng.Next(256)).Append(".0.0/16\"]\n");
                if (rng.Next(3) == 0) sb.Append("        - source:\n            serviceAccounts: [\"").Append(Ns(rng.Next(200))).Append("/sa-").Append(rng.Next(50)).Append("\"]\n");
                sb.Append("      to:\n        - operation:\n            ports: [\"").Append(rng.Next(3) == 0 ? 8443 : 8080).Append("\"]\n");
                if (rng.Next(2) == 0) sb.Append("            notPorts: [\"").Append(rng.Next(1, 65536)).Append("\"]\n");
            }
        }
        return sb.ToString();
    }

}
