# ReLU(inplace=True) on the input first: the shortcut adds ReLU(x) and the caller's tensor changes.
class IdentityBlock(IdentityBlock):
    def forward(self, x):
        x = F.relu(x, inplace=True)
        return super().forward(x)
