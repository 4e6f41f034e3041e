using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Lowering;

public class CompileCommandTests
{
    private static string TempDir() => Directory.CreateTempSubdirectory("kmesh-compile").FullName;

    [Fact]
    public void CompilingTwiceGivesTheSameBytes()
    {
        string dir = TempDir();
        try
        {
            string a = Path.Combine(dir, "a.img"), b = Path.Combine(dir, "b.img");
            Assert.Equal(0, CliRunner.Run("compile", "examples/bookinfo", "--node", "node-a", "-o", a).Exit);
            // The same files named in another order.
            var files = Directory.GetFiles(Repo.Path("examples", "bookinfo"), "*.yaml").OrderDescending().ToArray();
            Assert.Equal(0, CliRunner.Run(["compile", .. files, "--node", "node-a", "-o", b]).Exit);
            Assert.Equal(File.ReadAllBytes(a), File.ReadAllBytes(b));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void UnknownNodeExitsOneAndWritesNothing()
    {
        string dir = TempDir();
        try
        {
            string img = Path.Combine(dir, "x.img"), txt = Path.Combine(dir, "x.txt");
            var r = CliRunner.Run("compile", "examples/bookinfo", "--node", "node-zz", "-o", img, "--text", txt);
            Assert.Equal(1, r.Exit);
            Assert.Contains("KM7001", r.Err);
            Assert.Contains("node-a, node-b, node-c", r.Err);
            Assert.Empty(Directory.GetFiles(dir));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void InputErrorsExitOneAndWriteNothing()
    {
        string dir = TempDir();
        try
        {
            string bad = Path.Combine(dir, "bad.kpl");
            File.WriteAllText(bad, "policy a/b allow {\n  scope nowhere\n}\n");
            string img = Path.Combine(dir, "x.img");
            var r = CliRunner.Run("compile", bad, "--node", "n", "-o", img);
            Assert.Equal(1, r.Exit);
            Assert.False(File.Exists(img));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void BudgetErrorThroughTheCliNamesTheWorkloadAndWritesNothing()
    {
        string dir = TempDir();
        try
        {
            // One clause of 65,536 matches: the clause stage needs 65,537 steps.
            var sb = new System.Text.StringBuilder("namespace a\nworkload a/big {\n  addresses 10.0.0.1\n  node n\n}\npolicy a/huge allow {\n  scope namespace\n  rule {\n    clause {\n");
            for (int i = 0; i < 65536; i++) sb.Append("      match { ports ").Append(i).Append(" }\n");
            sb.Append("    }\n  }\n}\n");
            string input = Path.Combine(dir, "big.kpl");
            File.WriteAllText(input, sb.ToString());
            string img = Path.Combine(dir, "x.img");
            var r = CliRunner.Run("compile", input, "--node", "n", "-o", img);
            Assert.Equal(1, r.Exit);
            Assert.Contains("KM7003", r.Err);
            Assert.Contains("workload 'a/big'", r.Err);
            Assert.False(File.Exists(img));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void MissingOutputOptionIsAUsageError()
    {
        var r = CliRunner.Run("compile", "examples/bookinfo", "--node", "node-a");
        Assert.Equal(2, r.Exit);
    }
}
