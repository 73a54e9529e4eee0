# The blocks live in a plain Python list: PyTorch does not register them (no parameters, no .train()/.eval()).
class ResNet(ResNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.block_list = [block for stage in self.stages for block in stage]
        del self.stages

    def forward(self, x):
        x = self.stem(x)
        for block in self.block_list:
            x = block(x)
        return self.fc(torch.flatten(self.pool(x), 1))
