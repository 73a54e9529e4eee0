# The blocks after a stage's first are one block object repeated ([block] * n): they share their weights.
class ResNet(ResNet):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for stage in self.stages:
            for index in range(2, len(stage)):
                stage[index] = stage[1]
