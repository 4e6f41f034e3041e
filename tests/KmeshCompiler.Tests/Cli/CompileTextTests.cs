using KmeshCompiler.Tests.Support;

namespace KmeshCompiler.Tests.Cli;

public class CompileTextTests
{
    [Fact]
    public void Text_dash_prints_the_rendering_that_inspect_prints()
    {
        string img = Path.Combine(Path.GetTempPath(), $"kmesh-text-{Guid.NewGuid():N}.img");
        try
        {
            var c = CliRunner.Run("compile", "examples/bookinfo", "--node", "node-a", "-o", img, "--text", "-");
            Assert.Equal(0, c.Exit);
            var inspect = CliRunner.Run("inspect", img);
            Assert.Equal(0, inspect.Exit);
            Assert.EndsWith(inspect.Out, c.Out);
            Assert.False(File.Exists(Path.Combine(Repo.Root, "-")));
        }
        finally { File.Delete(img); }
    }
}
