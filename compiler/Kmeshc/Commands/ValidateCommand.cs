using System.CommandLine;

namespace Kmeshc.Commands;

public static class ValidateCommand
{
    public static Command Create()
    {
        var cmd = new Command("validate", "TODO");
        return cmd;
    }
}
